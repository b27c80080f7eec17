package dataimport

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
	"github.com/opdomain/opdomain/controllers/wakeup"
)

const kind = opv1.OwnerKindImport

// ClaimPrefix begins the name of the claim an import is delivered on in its workspace; the
// domain's admission policy lets only the operator make one, and pods mount it read-only.
const ClaimPrefix = "opdomain-import-"

// Reconciler reconciles DataImports: the airlock seals, inspects, delivers and destroys their
// artifacts.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    wakeup.Clock
	Airlock  *airlock.Airlock
}

// +kubebuilder:rbac:groups=opdomain.io,resources=dataimports,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataimports/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataimports/finalizers,verbs=update

// scope is one reconcile's view of an import and what it hangs under.
type scope struct {
	imp    *opv1.DataImport
	orig   *opv1.DataImport
	now    time.Time
	domain *opv1.OperationDomain
	// workspaceNamespace is where the import is delivered; empty when the workspace is gone.
	workspaceNamespace string
	inputs             Inputs
	passage            *airlock.Passage
	summary            conditions.Summary
	waiting            string
}

// Reconcile brings one import a step further through the airlock.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var m opv1.DataImport
	if err := r.Get(ctx, req.NamespacedName, &m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if m.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&m, opv1.Finalizer) {
		patch := client.MergeFrom(m.DeepCopy())
		controllerutil.AddFinalizer(&m, opv1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, &m, patch)
	}
	s := &scope{imp: &m, orig: m.DeepCopy(), now: r.Clock.Now()}
	defer func() {
		if err := conditions.Write(ctx, r.Client, &m, s.orig, &m.Status.Conditions, &m.Status.ObservedGeneration, s.summary, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
	}()
	if err := r.resolve(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if s.domain == nil {
		s.summary = conditions.Summary{Reason: opv1.ReasonDomainNotFound, Stalled: true,
			Message: "no OperationDomain has " + m.Namespace + " as its control namespace"}
		return ctrl.Result{}, nil
	}
	if !m.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	return r.reconcileNormal(ctx, s)
}

// resolve finds the import's domain and whether its workspace can still hold it.
func (r *Reconciler) resolve(ctx context.Context, s *scope) error {
	m := s.imp
	d, err := index.DomainFor(ctx, r.Client, m.Namespace)
	if err != nil || d == nil {
		return err
	}
	s.domain = d
	in := Inputs{Import: m}
	authz, err := index.Lookup[opv1.Authorization](ctx, r.Client, m.Namespace, m.Spec.Authorization)
	if err != nil {
		return err
	}
	ws, err := index.Lookup[opv1.DeveloperWorkspace](ctx, r.Client, m.Namespace, m.Spec.Workspace)
	if err != nil {
		return err
	}
	switch {
	case authz == nil || authz.Status.Phase.Ended():
		in.Ended = "agreement " + m.Spec.Authorization + " has ended"
	case ws == nil || ws.Status.Teardown != nil || !ws.DeletionTimestamp.IsZero():
		in.Ended = "workspace " + m.Spec.Workspace + " is gone or torn down"
	case ws.Spec.Authorization != m.Spec.Authorization:
		in.Ended = "workspace " + m.Spec.Workspace + " works under another agreement"
	default:
		s.workspaceNamespace = ws.Status.Namespace
	}
	s.inputs = in
	return nil
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := Decide(s.inputs)
	var step func(context.Context, *scope, Outcome) error
	switch out.Phase {
	case opv1.ImportSealing, opv1.ImportChecking:
		step = r.seal
	case opv1.ImportApproved:
		step = r.deliver
	case opv1.ImportDelivered:
		step = r.settle
	case opv1.ImportRejected, opv1.ImportWithdrawn, opv1.ImportRemoved:
		step = r.end
	case opv1.ImportInReview, opv1.ImportReturned, opv1.ImportFailed: // people act next
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

// reconcileDelete ends an import that is deleted as it would end otherwise, withdrawn or, once
// delivered, removed, and lets it go once its bytes are destroyed and the record is written.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := Decide(s.inputs)
	if !slices.Contains(ended, out.Phase) {
		out = Outcome{Phase: opv1.ImportWithdrawn, Reason: ReasonDeleted, Message: "the DataImport was deleted"}
		if s.imp.Status.Delivered != nil {
			out.Phase = opv1.ImportRemoved
		}
	}
	if err := r.end(ctx, s, out); err != nil {
		return airlock.Retry(err)
	}
	r.show(s, out)
	return ctrl.Result{}, airlock.Release(ctx, r.Client, s.imp, &s.imp.Status.ArtifactStatus)
}

// show writes the outcome into status: the phase, and the summary conditions.
func (r *Reconciler) show(s *scope, out Outcome) {
	s.imp.Status.Phase = out.Phase
	s.summary = airlock.Summarize(standing[out.Phase], out.Reason, out.Message, &s.imp.Status.ArtifactStatus, s.waiting)
}

// standing is what each phase means for the conditions.
var standing = map[opv1.ImportPhase]airlock.Standing{
	opv1.ImportInReview: airlock.AwaitingPeople, opv1.ImportReturned: airlock.Stopped, opv1.ImportFailed: airlock.Stopped,
	opv1.ImportDelivered: airlock.Done, opv1.ImportRejected: airlock.Over, opv1.ImportWithdrawn: airlock.Over, opv1.ImportRemoved: airlock.Over,
}

// seal brings the current revision from the inbox into the airlock (airlock.Admit).
func (r *Reconciler) seal(ctx context.Context, s *scope, _ Outcome) error {
	var err error
	s.waiting, err = r.Airlock.Admit(ctx, r.passage(s), &s.imp.Status.ArtifactStatus, r.namespaces(s)...)
	return err
}

// deliver hands the approved volume on to a claim in the workspace, where it is digested once
// more, and records the import.
func (r *Reconciler) deliver(ctx context.Context, s *scope, _ Outcome) error {
	m := s.imp
	if m.Status.Custody == nil || m.Status.Custody.Volume == "" || m.Status.Sealed == nil {
		return fmt.Errorf("an approved import has no sealed volume on record")
	}
	pass := r.passage(s)
	claim := pass.Claim(s.workspaceNamespace, ClaimPrefix)
	digest, err := r.Airlock.Deliver(ctx, pass, claim, m.Status.Sealed.SHA256)
	if err != nil || digest == "" {
		return err
	}
	location := airlock.Location(claim)
	spec := r.evidence(s, location)
	spec.Event, spec.Reason = "Imported", "approved by the operator's review"
	record, err := r.Airlock.Record(ctx, pass, spec, location)
	if err != nil {
		return err
	}
	m.Status.Delivered = &opv1.DeliveredCopy{Location: location, Claim: claim.Name, SHA256: digest, At: metav1.NewTime(s.now), Record: record}
	r.Recorder.Eventf(m, nil, corev1.EventTypeNormal, "Delivered", "Deliver", "delivered %s read-only at %s", digest, location)
	return nil
}

// settle removes the verification pod once the delivery is on record.
func (r *Reconciler) settle(ctx context.Context, s *scope, _ Outcome) error {
	return r.Airlock.RemovePods(ctx, r.passage(s), s.workspaceNamespace)
}

// end ends an import for good (airlock.End).
func (r *Reconciler) end(ctx context.Context, s *scope, out Outcome) error {
	return r.Airlock.End(ctx, r.passage(s), &s.imp.Status.ArtifactStatus, string(out.Phase), out.Reason, out.Message, r.evidence(s, ""), r.namespaces(s)...)
}

// namespaces are where the import's pods may be.
func (r *Reconciler) namespaces(s *scope) []string {
	return []string{names.Inbox(s.domain.Name), names.Airlock(s.domain.Name), s.workspaceNamespace}
}

// passage is the import's current revision as the airlock sees it: from the inbox, checked as
// an import.
func (r *Reconciler) passage(s *scope) *airlock.Passage {
	if s.passage == nil {
		m := s.imp
		s.passage = &airlock.Passage{Owner: m, Kind: kind, Revision: m.Spec.Revision, Domain: s.domain, Custody: m.Status.Custody,
			Source: client.ObjectKey{Namespace: names.Inbox(s.domain.Name), Name: m.Spec.Artifact.PersistentVolumeClaim}, Path: m.Spec.Artifact.Path,
			Checks: airlock.CheckSpec{Import: &airlock.ImportCheck{PersonalInformation: m.Spec.PersonalInformation != nil}}, Now: s.now}
	}
	return s.passage
}

// evidence is the record of the import's events: what was sealed, checked and reviewed.
func (r *Reconciler) evidence(s *scope, location string) opv1.TeardownRecordSpec {
	m := s.imp
	ev := &opv1.ProductEvidence{Revision: m.Spec.Revision, PublishedAt: location}
	if sealed := m.Status.Sealed; sealed != nil {
		ev.SHA256, ev.Size = sealed.SHA256, sealed.Size
		ev.ImportReviews = slices.DeleteFunc(slices.Clone(m.Spec.Reviews), func(rv opv1.ImportReview) bool { return rv.SHA256 != sealed.SHA256 })
	}
	if checks := m.Status.Checks; checks != nil {
		ev.ChecksOutcome, ev.ChecksReportSHA256 = checks.Outcome, checks.ReportSHA256
	}
	return opv1.TeardownRecordSpec{Product: ev, Authorization: m.Spec.Authorization}
}

// SetupWithManager watches imports, their pods and claims, and what decides their fate:
// agreements, workspaces and domains.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toOwner := index.ToOwner(kind)
	inNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return index.Requests(ctx, r, &opv1.DataImportList{}, client.InNamespace(o.GetNamespace()))
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&opv1.DataImport{}).
		Watches(&corev1.Pod{}, toOwner).
		Watches(&corev1.PersistentVolumeClaim{}, toOwner).
		Watches(&opv1.Authorization{}, inNamespace).
		Watches(&opv1.DeveloperWorkspace{}, inNamespace).
		Watches(&opv1.OperationDomain{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return index.Requests(ctx, r, &opv1.DataImportList{}, client.InNamespace(o.(*opv1.OperationDomain).Spec.ControlNamespace))
		}), builder.WithPredicates(index.DomainChanges)).
		Named("dataimport").
		Complete(r)
}
