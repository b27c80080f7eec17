package product

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/productcheck"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

const kind = opv1.OwnerKindProduct

// Reconciler reconciles DataProducts: it seals, inspects, publishes and destroys their
// artifacts with pods of the manager's own image.
type Reconciler struct {
	client.Client
	// APIReader reads the claims and volumes the airlock hands on, as stored.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     wakeup.Clock
	// Image is the manager's own image, which the airlock's pods run; empty leaves every
	// product waiting to be sealed.
	Image string
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
		conditions.Finish(&p.Status.Conditions, &p.Status.ObservedGeneration, p.Generation, s.summary, retErr)
		if err := apply.Status(ctx, r.Client, &p, s.orig); err != nil && !apierrors.IsNotFound(err) {
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
	in := Inputs{Product: p, Stages: Stages(d.Spec.Products, p.Spec.Recipients)}
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
	if c := p.Status.Custody; c != nil && c.Revision == p.Spec.Revision {
		in.SealFailure = c.Failure
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
	}
	// The phase is shown even when the step fails, with the failure in the conditions.
	r.show(s, out)
	if step != nil {
		if err := step(ctx, s, out); err != nil {
			return retry(err)
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
		return retry(err)
	}
	r.show(s, out)
	if e := s.product.Status.Ended; e == nil || e.Record == "" {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(s.product.DeepCopy())
	controllerutil.RemoveFinalizer(s.product, opv1.Finalizer)
	return ctrl.Result{}, r.Patch(ctx, s.product, patch)
}

// retry takes another turn at once when another record took the evidence chain's next place.
func retry(err error) (ctrl.Result, error) {
	if errors.Is(err, evidence.ErrSequenceTaken) {
		return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// show writes the outcome into status: the phase, and the summary conditions.
func (r *Reconciler) show(s *scope, out Outcome) {
	p := s.product
	p.Status.Phase = out.Phase
	p.Status.Stages = s.inputs.Stages
	switch out.Phase {
	case opv1.ProductPublished:
		s.summary = conditions.Summary{Ready: true, Reason: out.Reason, Message: "published at " + p.Status.Published.Location}
	case opv1.ProductInReview, opv1.ProductReturned, opv1.ProductFailed:
		s.summary = conditions.Summary{Reason: out.Reason, Message: out.Message, Stalled: out.Phase != opv1.ProductInReview}
	case opv1.ProductRejected, opv1.ProductWithdrawn, opv1.ProductDelisted:
		if e := p.Status.Ended; e != nil && e.Record != "" {
			s.summary = conditions.Summary{Ready: true, Reason: e.Reason, Message: e.Message + "; its copies are destroyed, record " + e.Record}
			return
		}
		s.summary = conditions.Summary{Reason: out.Reason, Message: "destroying its copies", Progressing: true}
	default:
		s.summary = conditions.Summary{Reason: out.Reason, Message: out.Message + s.waiting, Progressing: true}
	}
}

// seal freezes the current revision: the seal pod copies the artifact out of the workspace's
// claim onto a new volume, the volume moves to the airlock, and the inspection there digests
// and checks what arrived. A new revision first destroys the volume of the one before.
func (r *Reconciler) seal(ctx context.Context, s *scope, _ Outcome) error {
	p := s.product
	if r.Image == "" {
		s.waiting = "; the operator runs no airlock image (--airlock-image), so nothing is sealed"
		return nil
	}
	if c := p.Status.Custody; c != nil && c.Revision != p.Spec.Revision {
		if gone, err := r.destroy(ctx, s); err != nil || !gone {
			return err
		}
		p.Status.Custody = nil
	}
	if p.Status.Custody == nil {
		p.Status.Custody = &opv1.ArtifactCustody{Revision: p.Spec.Revision}
		p.Status.Sealed, p.Status.Checks = nil, nil
	}
	c := p.Status.Custody
	switch {
	case c.Failure != "":
		return nil
	case c.Copied == nil:
		return r.copyOut(ctx, s, c)
	}
	if err := r.removePods(ctx, s, s.workspaceNamespace); err != nil {
		return err
	}
	moved, err := r.custodian().Move(ctx, c.Volume, client.ObjectKey{Namespace: names.Airlock(s.domain.Name), Name: s.claimName()}, s.labels(""))
	if err != nil || !moved {
		return err
	}
	return r.inspect(ctx, s, c)
}

// copyOut runs the seal pod in the workspace: it reads the artifact's claim and writes the copy
// to a claim only the operator may mount.
func (r *Reconciler) copyOut(ctx context.Context, s *scope, c *opv1.ArtifactCustody) error {
	p := s.product
	ns := s.workspaceNamespace
	if ns == "" {
		c.Failure = "workspace " + p.Spec.Workspace + " is gone or torn down"
		return nil
	}
	var source corev1.PersistentVolumeClaim
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Spec.Artifact.PersistentVolumeClaim}, &source); {
	case apierrors.IsNotFound(err):
		c.Failure = fmt.Sprintf("spec.artifact.persistentVolumeClaim: no claim %s in the workspace's namespace %s", p.Spec.Artifact.PersistentVolumeClaim, ns)
		return nil
	case err != nil:
		return err
	}
	staging := client.ObjectKey{Namespace: ns, Name: SealClaimPrefix + names.Slug(fmt.Sprintf("%s-r%d", p.Name, p.Spec.Revision), 63-len(SealClaimPrefix))}
	claim, err := r.ensureStagingClaim(ctx, s, staging, source.Spec.StorageClassName)
	if err != nil {
		return err
	}
	if c.Volume == "" && claim.Spec.VolumeName != "" {
		// Written down before the volume is acted on, so that no restart loses it.
		var pv corev1.PersistentVolume
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: claim.Spec.VolumeName}, &pv); err != nil {
			return err
		}
		c.Volume, c.VolumeUID = pv.Name, string(pv.UID)
	}
	pod, err := r.ensurePod(ctx, r.pod(s, podSpec{step: stepSeal, namespace: ns, memory: resource.MustParse("64Mi"),
		args:   []string{"--from", sourceMount, "--path", p.Spec.Artifact.Path, "--to", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(s.maxBytes())},
		claims: map[string]string{sourceMount: source.Name, sealedMount: staging.Name}, writable: sealedMount}))
	if err != nil {
		return err
	}
	var got struct {
		Sealed
		Error string `json:"error"`
	}
	done, err := result(pod, &got)
	if !done {
		return nil
	}
	switch {
	case err != nil:
		c.Failure = err.Error()
	case got.Error != "":
		c.Failure = "sealing " + p.Spec.Artifact.Path + ": " + got.Error
	case c.Volume == "":
		return fmt.Errorf("claim %s holds the sealed copy but names no volume", staging)
	default:
		c.Copied = &opv1.SealedArtifact{Revision: p.Spec.Revision, SHA256: got.SHA256, Size: got.Size, At: metav1.NewTime(s.now)}
	}
	return nil
}

// inspect runs the inspection in the airlock: the digest of what arrived must be what the seal
// copied, and the checks run on those bytes.
func (r *Reconciler) inspect(ctx context.Context, s *scope, c *opv1.ArtifactCustody) error {
	p := s.product
	ns := names.Airlock(s.domain.Name)
	spec, err := r.checkSpec(ctx, s)
	if err != nil {
		return err
	}
	pod, err := r.ensurePod(ctx, r.pod(s, podSpec{step: stepInspect, namespace: ns, memory: s.inspectMemory(),
		args:   []string{"--file", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(s.maxBytes()), "--checks", spec},
		claims: map[string]string{sealedMount: s.claimName()}}))
	if err != nil {
		return err
	}
	var got Inspection
	done, err := result(pod, &got)
	if !done {
		return nil
	}
	switch {
	case err != nil:
		c.Failure = err.Error()
	case got.Error != "":
		c.Failure = "inspecting the sealed copy: " + got.Error
	case got.SHA256 != c.Copied.SHA256 || got.Size != c.Copied.Size || got.Checks == nil:
		c.Failure = fmt.Sprintf("the airlock holds %d bytes of digest %s, the seal copied %d of digest %s: the copy changed on its way", got.Size, got.SHA256, c.Copied.Size, c.Copied.SHA256)
	default:
		p.Status.Sealed = &opv1.SealedArtifact{Revision: p.Spec.Revision, SHA256: got.SHA256, Size: got.Size, At: metav1.NewTime(s.now)}
		p.Status.Checks = got.Checks
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, "Sealed", "Seal", "revision %d sealed as %s (%d bytes); checks: %s", p.Spec.Revision, got.SHA256, got.Size, got.Checks.Outcome)
	}
	s.inputs.SealFailure = c.Failure
	return nil
}

// publish moves the approved volume to the outbox and digests it there once more.
func (r *Reconciler) publish(ctx context.Context, s *scope, _ Outcome) error {
	p := s.product
	c := p.Status.Custody
	if c == nil || c.Volume == "" || p.Status.Sealed == nil {
		return fmt.Errorf("an approved product has no sealed volume on record")
	}
	ns := names.Outbox(s.domain.Name)
	if err := r.removePods(ctx, s, names.Airlock(s.domain.Name)); err != nil {
		return err
	}
	moved, err := r.custodian().Move(ctx, c.Volume, client.ObjectKey{Namespace: ns, Name: s.claimName()}, s.labels(""))
	if err != nil || !moved {
		return err
	}
	pod, err := r.ensurePod(ctx, r.pod(s, podSpec{step: stepVerify, namespace: ns, memory: resource.MustParse("64Mi"),
		args:   []string{"--file", sealedMount + "/" + artifactFile, "--max-bytes", fmt.Sprint(s.maxBytes())},
		claims: map[string]string{sealedMount: s.claimName()}}))
	if err != nil {
		return err
	}
	var got Inspection
	done, err := result(pod, &got)
	if !done {
		return nil
	}
	if err == nil && got.SHA256 != p.Status.Sealed.SHA256 {
		err = fmt.Errorf("the outbox holds digest %s, the airlock sealed %s", got.SHA256, p.Status.Sealed.SHA256)
	}
	if err != nil {
		// Nothing is published that does not match what was reviewed; the pod is kept to look at.
		s.summary = conditions.Summary{Stalled: true, Reason: ReasonPublishing, Message: err.Error()}
		return err
	}
	location := fmt.Sprintf("%s/%s:/%s", ns, s.claimName(), artifactFile)
	record, err := r.record(ctx, s, "Published", "approved by every review stage", location)
	if err != nil {
		return err
	}
	p.Status.Published = &opv1.PublishedCopy{Location: location, SHA256: got.SHA256, At: metav1.NewTime(s.now), Record: record}
	r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, "Published", "Publish", "published %s at %s", got.SHA256, location)
	return nil
}

// settle removes the verification pod once the publication is on record.
func (r *Reconciler) settle(ctx context.Context, s *scope, _ Outcome) error {
	return r.removePods(ctx, s, names.Outbox(s.domain.Name))
}

// end ends a product for good: its tombstone, its volume destroyed wherever it is, and the
// record of it all.
func (r *Reconciler) end(ctx context.Context, s *scope, out Outcome) error {
	p := s.product
	if p.Status.Ended == nil {
		p.Status.Ended = &opv1.ProductEnd{At: metav1.NewTime(s.now), Reason: out.Reason, Message: out.Message}
	}
	if p.Status.Ended.Record != "" {
		return nil
	}
	if gone, err := r.destroy(ctx, s); err != nil || !gone {
		return err
	}
	record, err := r.record(ctx, s, string(out.Phase), p.Status.Ended.Reason+": "+p.Status.Ended.Message, "")
	if err != nil {
		return err
	}
	p.Status.Ended.Record = record
	r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, string(out.Phase), "End", "%s: %s; record %s", p.Status.Ended.Reason, p.Status.Ended.Message, record)
	return nil
}

// destroy removes the product's pods and destroys its current volume with its bytes, and says
// whether nothing is left.
func (r *Reconciler) destroy(ctx context.Context, s *scope) (gone bool, err error) {
	c := s.product.Status.Custody
	if c == nil || c.Destroyed {
		return true, nil
	}
	for _, ns := range []string{s.workspaceNamespace, names.Airlock(s.domain.Name), names.Outbox(s.domain.Name)} {
		if err := r.removePods(ctx, s, ns); err != nil {
			return false, err
		}
	}
	if c.Volume == "" {
		// Never bound, or bound while no one looked: the seal's claim says which volume.
		if gone, err := r.deleteStagingClaims(ctx, s); err != nil || !gone {
			return false, err
		}
		c.Destroyed = true
		return true, nil
	}
	gone, err = r.custodian().Destroy(ctx, c.Volume, s.labels(""))
	if err != nil || !gone {
		return false, err
	}
	c.Destroyed = true
	r.Recorder.Eventf(s.product, nil, corev1.EventTypeNormal, "Destroyed", "Destroy", "volume %s of revision %d and its bytes are destroyed", c.Volume, c.Revision)
	return true, nil
}

// deleteStagingClaims deletes the seal's claims in the workspace, and with them any volume they
// were given, and says whether they are gone.
func (r *Reconciler) deleteStagingClaims(ctx context.Context, s *scope) (bool, error) {
	if s.workspaceNamespace == "" {
		return true, nil // the workspace's teardown destroys its claims and their volumes
	}
	var claims corev1.PersistentVolumeClaimList
	if err := r.APIReader.List(ctx, &claims, client.InNamespace(s.workspaceNamespace), s.ownedBy()); err != nil {
		return false, err
	}
	for i := range claims.Items {
		if err := apply.Delete(ctx, r.Client, &claims.Items[i]); err != nil {
			return false, err
		}
	}
	return len(claims.Items) == 0, nil
}

// record appends the product's event to the domain's evidence chain.
func (r *Reconciler) record(ctx context.Context, s *scope, event, reason, publishedAt string) (string, error) {
	p := s.product
	ev := &opv1.ProductEvidence{Revision: p.Spec.Revision, PublishedAt: publishedAt}
	if sealed := p.Status.Sealed; sealed != nil {
		ev.SHA256, ev.Size = sealed.SHA256, sealed.Size
		ev.Reviews = slices.DeleteFunc(slices.Clone(p.Spec.Reviews), func(rv opv1.ProductReview) bool { return rv.SHA256 != sealed.SHA256 })
	}
	if checks := p.Status.Checks; checks != nil {
		ev.ChecksOutcome, ev.ChecksReportSHA256 = checks.Outcome, checks.ReportSHA256
	}
	spec := opv1.TeardownRecordSpec{
		Subject:       opv1.ObjectRecord{Kind: "DataProduct", Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)},
		Event:         event,
		Product:       ev,
		Authorization: p.Spec.Authorization,
		Reason:        truncate(reason, 1024),
		EndedBy:       "opdomain operator",
		StartedAt:     p.CreationTimestamp,
		CompletedAt:   metav1.NewTime(s.now),
	}
	if c := p.Status.Custody; c != nil && c.Volume != "" {
		step := opv1.TeardownStep{Name: "volume", CompletedAt: &spec.CompletedAt,
			Objects: []opv1.ObjectRecord{{Kind: "PersistentVolume", Name: c.Volume, UID: c.VolumeUID, Detail: custodyDetail(c, publishedAt)}}}
		spec.Steps = []opv1.TeardownStep{step}
	}
	name, err := evidence.Append(ctx, r.Client, r.APIReader, s.domain, spec, s.labels(""))
	if err != nil {
		return "", fmt.Errorf("recording the product's %s event: %w", event, err)
	}
	return name, nil
}

func custodyDetail(c *opv1.ArtifactCustody, publishedAt string) string {
	switch {
	case c.Destroyed:
		return "destroyed with its bytes"
	case publishedAt != "":
		return "holds the published copy at " + publishedAt
	}
	return "holds the sealed copy"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (r *Reconciler) ensureStagingClaim(ctx context.Context, s *scope, key client.ObjectKey, class *string) (*corev1.PersistentVolumeClaim, error) {
	var claim corev1.PersistentVolumeClaim
	err := r.APIReader.Get(ctx, key, &claim)
	if err == nil || !apierrors.IsNotFound(err) {
		return &claim, err
	}
	claim = corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: s.labels("")},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(s.maxBytes(), resource.BinarySI)}},
		},
	}
	if err := r.Create(ctx, &claim); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating the seal's claim %s: %w", key, err)
	}
	return &claim, nil
}

// ensurePod creates the pod unless it exists, and returns it as stored.
func (r *Reconciler) ensurePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	var have corev1.Pod
	err := r.Get(ctx, client.ObjectKeyFromObject(pod), &have)
	if err == nil || !apierrors.IsNotFound(err) {
		return &have, err
	}
	if err := r.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating the airlock's %s pod: %w", pod.Spec.Containers[0].Name, err)
	}
	return pod, nil
}

// removePods deletes the product's pods in a namespace: a claim is released only once no pod
// uses it. A step's pod is removed by the step after it, once its result is on record and seen:
// a reconcile that read the product from a cache not yet showing the result finds the pod and
// reads the same result again, instead of running the step a second time.
func (r *Reconciler) removePods(ctx context.Context, s *scope, namespace string) error {
	if namespace == "" {
		return nil
	}
	return client.IgnoreNotFound(r.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(namespace), s.ownedBy()))
}

// checkSpec is the inspection's --checks argument: the product's type and table, the fields its
// grants' resources mark sensitive, and the domain's thresholds.
func (r *Reconciler) checkSpec(ctx context.Context, s *scope) (string, error) {
	p := s.product
	spec := CheckSpec{Type: p.Spec.Type, Policy: productcheck.PolicyOf(s.domain.Spec.Products.Checks)}
	if t := p.Spec.Table; t != nil {
		spec.Declaration = productcheck.Declaration{Counts: t.Counts, QuasiIdentifiers: t.QuasiIdentifiers, Magnitude: t.Magnitude}
	}
	sensitive, err := r.sensitiveFields(ctx, s)
	if err != nil {
		return "", err
	}
	spec.Declaration.Sensitive = sensitive
	return spec.encode()
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

func (r *Reconciler) custodian() Custodian {
	return Custodian{Client: r.Client, APIReader: r.APIReader}
}

// maxBytes is the largest artifact the domain's airlock takes.
func (s *scope) maxBytes() int64 {
	if q := s.domain.Spec.Products.MaxArtifactSize; q != nil && q.Value() > 0 {
		return q.Value()
	}
	return 1 << 30
}

// inspectMemory holds the table the checks read, twice over, and the checker itself.
func (s *scope) inspectMemory() resource.Quantity {
	return *resource.NewQuantity(2*s.maxBytes()+128<<20, resource.BinarySI)
}

// claimName is the claim that holds the current revision's volume in the airlock and the outbox.
func (s *scope) claimName() string {
	return names.Slug(fmt.Sprintf("%s-r%d", s.product.Name, s.product.Spec.Revision), 63)
}

func (s *scope) labels(step string) map[string]string {
	l := map[string]string{
		opv1.LabelDomain:         s.domain.Name,
		opv1.LabelOwnerKind:      kind,
		opv1.LabelOwnerName:      s.product.Name,
		opv1.LabelOwnerNamespace: s.product.Namespace,
	}
	if step != "" {
		l[opv1.LabelComponent] = "airlock-" + step
	}
	return l
}

func (s *scope) ownedBy() client.MatchingLabels {
	return client.MatchingLabels{opv1.LabelOwnerKind: kind, opv1.LabelOwnerName: s.product.Name, opv1.LabelOwnerNamespace: s.product.Namespace}
}

// SetupWithManager watches products, their pods and claims, and what decides their fate:
// agreements, grants and domains.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toOwner := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[opv1.LabelOwnerKind] != kind || l[opv1.LabelOwnerName] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[opv1.LabelOwnerNamespace], Name: l[opv1.LabelOwnerName]}}}
	})
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
		})).
		Named("dataproduct").
		Complete(r)
}
