package product

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/airlock"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/productcheck"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

const kind = opv1.OwnerKindProduct

// Reconciler reconciles DataProducts: the airlock seals, inspects, publishes and destroys their
// artifacts.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    wakeup.Clock
	Airlock  *airlock.Airlock
}

// +kubebuilder:rbac:groups=opdomain.io,resources=dataproducts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataproducts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataproducts/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch;patch;delete

// scope is one reconcile's view of a product and what it hangs under.
type scope struct {
	product *opv1.DataProduct
	orig    *opv1.DataProduct
	now     time.Time
	domain  *opv1.OperationDomain
	// workspaceNamespace is where the artifact's claim is; empty when the workspace is gone.
	workspaceNamespace string
	inputs             Inputs
	passage            *airlock.Passage
	summary            conditions.Summary
	// waiting says what the product waits for outside the operator's reach.
	waiting string
}

// Reconcile brings one product a step further through the airlock.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var p opv1.DataProduct
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&p, opv1.Finalizer) {
		patch := client.MergeFrom(p.DeepCopy())
		controllerutil.AddFinalizer(&p, opv1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, &p, patch)
	}
	s := &scope{product: &p, orig: p.DeepCopy(), now: r.Clock.Now()}
	defer func() {
		if err := conditions.Write(ctx, r.Client, &p, s.orig, &p.Status.Conditions, &p.Status.ObservedGeneration, s.summary, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
	}()
	if err := r.resolve(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if s.domain == nil {
		s.summary = conditions.Summary{Reason: opv1.ReasonDomainNotFound, Stalled: true,
			Message: "no OperationDomain has " + p.Namespace + " as its control namespace"}
		return ctrl.Result{}, nil
	}
	if !p.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	return r.reconcileNormal(ctx, s)
}

// resolve finds the product's domain, whether its agreement and grants are still in force, and
// the review stages it needs.
func (r *Reconciler) resolve(ctx context.Context, s *scope) error {
	p := s.product
	d, err := index.DomainFor(ctx, r.Client, p.Namespace)
	if err != nil || d == nil {
		return err
	}
	s.domain = d
	in := Inputs{Product: p, Stages: Stages(rulebook.Of(&d.Spec).ReviewStages, p.Spec.Recipients)}
	authz, err := index.Lookup[opv1.Authorization](ctx, r.Client, p.Namespace, p.Spec.Authorization)
	if err != nil {
		return err
	}
	in.AgreementEnded = authz == nil || authz.Status.Phase.Ended()
	for _, name := range p.Spec.Grants {
		g, err := index.Lookup[opv1.DataGrant](ctx, r.Client, p.Namespace, name)
		if err != nil {
			return err
		}
		if g == nil || g.Status.Phase == opv1.GrantRevoked {
			in.GrantRevoked = name
			break
		}
	}
	s.inputs = in
	ws, err := index.Lookup[opv1.DeveloperWorkspace](ctx, r.Client, p.Namespace, p.Spec.Workspace)
	if err != nil {
		return err
	}
	if ws != nil && ws.Status.Teardown == nil {
		s.workspaceNamespace = ws.Status.Namespace
	}
	return nil
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := Decide(s.inputs)
	var step func(context.Context, *scope, Outcome) error
	switch out.Phase {
	case opv1.ProductSealing, opv1.ProductChecking:
		step = r.seal
	case opv1.ProductApproved:
		step = r.publish
	case opv1.ProductPublished:
		step = r.settle
	case opv1.ProductRejected, opv1.ProductWithdrawn, opv1.ProductDelisted:
		step = r.end
	case opv1.ProductInReview, opv1.ProductReturned, opv1.ProductFailed: // people act next
	}
	// The phase is shown even when the step fails, with the failure in the conditions.
	r.show(s, out)
	if step != nil {
		if err := step(ctx, s, out); err != nil {
			return airlock.Retry(err)
		}
		r.show(s, Decide(s.inputs))
	}
	return ctrl.Result{}, nil
}

// reconcileDelete ends a product that is deleted as it would end otherwise, withdrawn or, once
// published, delisted, and lets it go once its bytes are destroyed and the record is written.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := Decide(s.inputs)
	if !slices.Contains(ended, out.Phase) {
		out = Outcome{Phase: opv1.ProductWithdrawn, Reason: ReasonDeleted, Message: "the DataProduct was deleted"}
		if s.product.Status.Published != nil {
			out.Phase = opv1.ProductDelisted
		}
	}
	if err := r.end(ctx, s, out); err != nil {
		return airlock.Retry(err)
	}
	r.show(s, out)
	return ctrl.Result{}, airlock.Release(ctx, r.Client, s.product, &s.product.Status.ArtifactStatus)
}

// show writes the outcome into status: the phase, and the summary conditions.
func (r *Reconciler) show(s *scope, out Outcome) {
	s.product.Status.Phase = out.Phase
	s.product.Status.Stages = s.inputs.Stages
	s.summary = airlock.Summarize(standing[out.Phase], out.Reason, out.Message, &s.product.Status.ArtifactStatus, s.waiting)
}

// standing is what each phase means for the conditions.
var standing = map[opv1.ProductPhase]airlock.Standing{
	opv1.ProductInReview: airlock.AwaitingPeople, opv1.ProductReturned: airlock.Stopped, opv1.ProductFailed: airlock.Stopped,
	opv1.ProductPublished: airlock.Done, opv1.ProductRejected: airlock.Over, opv1.ProductWithdrawn: airlock.Over, opv1.ProductDelisted: airlock.Over,
}

// seal brings the current revision into the airlock (airlock.Admit).
func (r *Reconciler) seal(ctx context.Context, s *scope, _ Outcome) error {
	p := s.product
	pass, err := r.passage(ctx, s)
	if err != nil {
		return err
	}
	s.waiting, err = r.Airlock.Admit(ctx, pass, &p.Status.ArtifactStatus, r.namespaces(s)...)
	return err
}

// publish hands the approved volume on to the outbox, where it is digested once more, and
// records the publication.
func (r *Reconciler) publish(ctx context.Context, s *scope, _ Outcome) error {
	p := s.product
	if p.Status.Custody == nil || p.Status.Custody.Volume == "" || p.Status.Sealed == nil {
		return fmt.Errorf("an approved product has no sealed volume on record")
	}
	pass, err := r.passage(ctx, s)
	if err != nil {
		return err
	}
	outbox := pass.Claim(names.Outbox(s.domain.Name), "")
	digest, err := r.Airlock.Deliver(ctx, pass, outbox, p.Status.Sealed.SHA256)
	if err != nil {
		// Nothing is published that does not match what was reviewed.
		s.summary = conditions.Summary{Stalled: true, Reason: ReasonPublishing, Message: err.Error()}
		return err
	}
	if digest == "" {
		return nil
	}
	location := airlock.Location(outbox)
	spec := r.evidence(s, location)
	spec.Event, spec.Reason = "Published", "approved by every review stage"
	record, err := r.Airlock.Record(ctx, pass, spec, location)
	if err != nil {
		return err
	}
	p.Status.Published = &opv1.PublishedCopy{Location: location, SHA256: digest, At: metav1.NewTime(s.now), Record: record}
	r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, "Published", "Publish", "published %s at %s", digest, location)
	return nil
}

// settle removes the verification pod once the publication is on record.
func (r *Reconciler) settle(ctx context.Context, s *scope, _ Outcome) error {
	pass, err := r.passage(ctx, s)
	if err != nil {
		return err
	}
	return r.Airlock.RemovePods(ctx, pass, names.Outbox(s.domain.Name))
}

// end ends a product for good (airlock.End).
func (r *Reconciler) end(ctx context.Context, s *scope, out Outcome) error {
	pass, err := r.passage(ctx, s)
	if err != nil {
		return err
	}
	return r.Airlock.End(ctx, pass, &s.product.Status.ArtifactStatus, string(out.Phase), out.Reason, out.Message, r.evidence(s, ""), r.namespaces(s)...)
}

// namespaces are where the product's pods may be.
func (r *Reconciler) namespaces(s *scope) []string {
	return []string{s.workspaceNamespace, names.Airlock(s.domain.Name), names.Outbox(s.domain.Name)}
}

// passage is the product's current revision as the airlock sees it.
func (r *Reconciler) passage(ctx context.Context, s *scope) (*airlock.Passage, error) {
	if s.passage != nil {
		return s.passage, nil
	}
	p := s.product
	checks, err := r.checkSpec(ctx, s)
	if err != nil {
		return nil, err
	}
	s.passage = &airlock.Passage{Owner: p, Kind: kind, Revision: p.Spec.Revision, Domain: s.domain, Custody: p.Status.Custody,
		Source: client.ObjectKey{Namespace: s.workspaceNamespace, Name: p.Spec.Artifact.PersistentVolumeClaim}, Path: p.Spec.Artifact.Path,
		Checks: checks, Now: s.now}
	return s.passage, nil
}

// evidence is the record of the product's events: what was sealed, checked and reviewed.
func (r *Reconciler) evidence(s *scope, publishedAt string) opv1.TeardownRecordSpec {
	p := s.product
	ev := &opv1.ProductEvidence{Revision: p.Spec.Revision, PublishedAt: publishedAt}
	if sealed := p.Status.Sealed; sealed != nil {
		ev.SHA256, ev.Size = sealed.SHA256, sealed.Size
		ev.Reviews = slices.DeleteFunc(slices.Clone(p.Spec.Reviews), func(rv opv1.ProductReview) bool { return rv.SHA256 != sealed.SHA256 })
	}
	if checks := p.Status.Checks; checks != nil {
		ev.ChecksOutcome, ev.ChecksReportSHA256 = checks.Outcome, checks.ReportSHA256
	}
	return opv1.TeardownRecordSpec{Product: ev, Authorization: p.Spec.Authorization}
}

// checkSpec is what the inspection checks: the product's type and table, the fields its grants'
// resources mark sensitive, and the domain's thresholds.
func (r *Reconciler) checkSpec(ctx context.Context, s *scope) (airlock.CheckSpec, error) {
	p := s.product
	spec := airlock.CheckSpec{Type: p.Spec.Type, Policy: productcheck.PolicyOf(s.domain.Spec.Products.Checks)}
	if t := p.Spec.Table; t != nil {
		spec.Declaration = productcheck.Declaration{Counts: t.Counts, QuasiIdentifiers: t.QuasiIdentifiers, Magnitude: t.Magnitude}
	}
	sensitive, err := r.sensitiveFields(ctx, s)
	spec.Declaration.Sensitive = sensitive
	return spec, err
}

// sensitiveFields are the fields marked sensitive in the catalog entries of the product's grants.
func (r *Reconciler) sensitiveFields(ctx context.Context, s *scope) ([]string, error) {
	var fields []string
	for _, name := range s.product.Spec.Grants {
		g, err := index.Lookup[opv1.DataGrant](ctx, r.Client, s.product.Namespace, name)
		if err != nil || g == nil {
			return nil, err
		}
		for _, item := range g.Spec.Items {
			res, err := index.Lookup[opv1.DataResource](ctx, r.Client, s.product.Namespace, item.Resource)
			if err != nil {
				return nil, err
			}
			if res == nil {
				continue
			}
			for _, f := range res.Spec.Fields {
				if f.Sensitive && !slices.Contains(fields, f.Name) {
					fields = append(fields, f.Name)
				}
			}
		}
	}
	slices.Sort(fields)
	return fields, nil
}

// SetupWithManager watches products, their pods and claims, and what decides their fate:
// agreements, grants and domains.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toOwner := index.ToOwner(kind)
	inNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return index.Requests(ctx, r, &opv1.DataProductList{}, client.InNamespace(o.GetNamespace()))
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&opv1.DataProduct{}).
		Watches(&corev1.Pod{}, toOwner).
		Watches(&corev1.PersistentVolumeClaim{}, toOwner).
		Watches(&opv1.Authorization{}, inNamespace).
		Watches(&opv1.DataGrant{}, inNamespace).
		Watches(&opv1.DeveloperWorkspace{}, inNamespace).
		Watches(&opv1.OperationDomain{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return index.Requests(ctx, r, &opv1.DataProductList{}, client.InNamespace(o.(*opv1.OperationDomain).Spec.ControlNamespace))
		}), builder.WithPredicates(index.DomainChanges)).
		Named("dataproduct").
		Complete(r)
}
