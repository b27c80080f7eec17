package workspace

import (
	"context"
	"errors"
	"fmt"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/policy"
)

// Teardown steps, in order (R6).
const (
	StepIdentities = "identities"
	StepPaths      = "paths"
	StepCompute    = "compute"
	StepData       = "data"
	StepNamespace  = "namespace"
)

// TeardownSteps lists the steps in the order they run: identities first, as every cut takes the
// keys back before anything else, so a member cannot act while the rest comes down.
var TeardownSteps = []string{StepIdentities, StepPaths, StepCompute, StepData, StepNamespace}

// waitInterval is how often a teardown looks again at objects it is waiting to see gone
// (pods terminating, volumes released, the namespace finalizing).
const waitInterval = time.Second

// errWaiting means a step has issued its deletes and waits for them to take effect.
var errWaiting = errors.New("waiting for deletions to complete")

// reconcileDelete runs the ordered teardown. Each step first writes down what it will act on,
// then acts, then marks itself done; status is saved between steps, so a manager stopped at
// any point picks up where it left off and the evidence misses nothing. The last step appends
// the TeardownRecord to the domain's chain, found again by the workspace's UID after a restart,
// so a restart never writes two.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope, reason, endedBy string) (ctrl.Result, error) {
	ws := s.ws
	if ws.Status.Teardown == nil {
		ws.Status.Teardown = &opv1.TeardownProgress{Reason: reason, EndedBy: endedBy, StartedAt: metav1.NewTime(s.now)}
		r.Recorder.Eventf(ws, nil, corev1.EventTypeWarning, "TeardownStarted", "Teardown", "teardown started: %s", reason)
		ctrl.LoggerFrom(ctx).Info("workspace teardown started", "reason", reason, "endedBy", endedBy)
	}
	ws.Status.Phase = opv1.WorkspaceTearingDown
	ws.Status.Credentials = nil
	s.summary = conditions.Summary{Reason: opv1.ReasonTearingDown, Message: "teardown: " + reason, Progressing: true}
	conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionAccessGranted, false, opv1.ReasonTearingDown, "access revoked by teardown")

	if ws.Status.Teardown.Record == "" {
		since := ws.Status.Teardown.StartedAt.Time
		for _, name := range TeardownSteps {
			step := ws.Status.Teardown.Step(name)
			if step.CompletedAt != nil {
				since = step.CompletedAt.Time
				continue
			}
			err := r.runStep(ctx, s, step)
			if errors.Is(err, errWaiting) {
				return ctrl.Result{RequeueAfter: waitInterval}, nil
			}
			if err != nil {
				return ctrl.Result{}, err
			}
			step.CompletedAt = &metav1.Time{Time: r.Clock.Now()}
			if err := r.saveProgress(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
			metrics.TeardownStep.WithLabelValues(name).Observe(step.CompletedAt.Sub(since).Seconds())
			since = step.CompletedAt.Time
		}
		if err := r.writeRecord(ctx, s); err != nil {
			if errors.Is(err, evidence.ErrSequenceTaken) {
				return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
			}
			return ctrl.Result{}, err
		}
	}
	ws.Status.Phase = opv1.WorkspaceTornDown
	s.summary = conditions.Summary{Reason: opv1.ReasonTornDown, Message: "torn down: " + ws.Status.Teardown.Reason + "; evidence in TeardownRecord " + ws.Status.Teardown.Record}
	if !ws.DeletionTimestamp.IsZero() && controllerutil.ContainsFinalizer(ws, opv1.Finalizer) {
		if err := r.saveProgress(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
		patch := client.MergeFrom(ws.DeepCopy())
		controllerutil.RemoveFinalizer(ws, opv1.Finalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, ws, patch))
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) runStep(ctx context.Context, s *scope, step *opv1.TeardownStep) error {
	ns := s.ws.Status.Namespace
	if ns == "" && step.Name != StepIdentities {
		// No workspace namespace was ever made; an empty namespace would mean every namespace.
		return nil
	}
	inNS := client.InNamespace(ns)
	switch step.Name {
	case StepPaths:
		// Every allow goes; the deny stays until the namespace itself goes.
		keepDeny := func(o client.Object) bool { return o.GetName() == policy.DefaultDeny }
		return r.destroy(ctx, s, step, keepDeny,
			listed(&networkingv1.NetworkPolicyList{}, inNS, s.ownedBy()),
			listed(&ciliumv2.CiliumNetworkPolicyList{}, inNS, s.ownedBy()))
	case StepIdentities:
		return r.destroy(ctx, s, step, nil,
			listed(&rbacv1.RoleBindingList{}, inNS, s.ownedBy()),
			listed(&rbacv1.RoleList{}, inNS, s.ownedBy()),
			listed(&corev1.SecretList{}, client.InNamespace(s.ws.Namespace), s.ownedBy()),
			listed(&corev1.ServiceAccountList{}, client.InNamespace(s.ws.Namespace), s.ownedBy()))
	case StepCompute:
		return r.destroy(ctx, s, step, nil,
			listed(&batchv1.CronJobList{}, inNS), listed(&batchv1.JobList{}, inNS),
			listed(&appsv1.DeploymentList{}, inNS), listed(&appsv1.StatefulSetList{}, inNS),
			listed(&appsv1.ReplicaSetList{}, inNS), listed(&corev1.PodList{}, inNS))
	case StepData:
		return r.destroyData(ctx, s, step)
	case StepNamespace:
		var namespace corev1.Namespace
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
			return client.IgnoreNotFound(err)
		}
		return r.destroyObjects(ctx, s, step, []client.Object{&namespace})
	}
	return fmt.Errorf("unknown teardown step %q", step.Name)
}

// listing is one List call: a list type and its options.
type listing struct {
	list client.ObjectList
	opts []client.ListOption
}

func listed(list client.ObjectList, opts ...client.ListOption) listing {
	return listing{list: list, opts: opts}
}

// destroy lists what the step removes, records it, deletes it, and reports errWaiting until
// all of it is gone. keep filters out objects the step must leave.
func (r *Reconciler) destroy(ctx context.Context, s *scope, step *opv1.TeardownStep, keep func(client.Object) bool, listings ...listing) error {
	var found []client.Object
	for _, l := range listings {
		objs, err := r.list(ctx, l)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if keep == nil || !keep(o) {
				found = append(found, o)
			}
		}
	}
	return r.destroyObjects(ctx, s, step, found)
}

// destroyObjects records, deletes, and reports errWaiting while anything is left.
func (r *Reconciler) destroyObjects(ctx context.Context, s *scope, step *opv1.TeardownStep, found []client.Object) error {
	if len(found) == 0 {
		return nil
	}
	if r.record(step, found) {
		if err := r.saveProgress(ctx, s); err != nil {
			return err
		}
	}
	for _, o := range found {
		if err := apply.Delete(ctx, r.Client, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			return err
		}
	}
	return errWaiting
}

// list reads past the cache: a teardown must see what members made, which carries no label.
func (r *Reconciler) list(ctx context.Context, l listing) ([]client.Object, error) {
	if err := r.APIReader.List(ctx, l.list, l.opts...); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, err
	}
	items, err := meta.ExtractList(l.list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// record adds the objects to the step's evidence, once each; it reports whether it added any.
func (r *Reconciler) record(step *opv1.TeardownStep, objs []client.Object) bool {
	records := make([]opv1.ObjectRecord, 0, len(objs))
	for _, o := range objs {
		records = append(records, r.objectRecord(o, ""))
	}
	return addEvidence(step, records)
}

// addEvidence appends the records the step does not hold yet, keyed by UID.
func addEvidence(step *opv1.TeardownStep, records []opv1.ObjectRecord) bool {
	seen := map[string]bool{}
	for _, o := range step.Objects {
		seen[o.UID] = true
	}
	added := false
	for _, rec := range records {
		if seen[rec.UID] {
			continue
		}
		seen[rec.UID] = true
		step.Objects = append(step.Objects, rec)
		added = true
	}
	return added
}

func (r *Reconciler) objectRecord(o client.Object, detail string) opv1.ObjectRecord {
	kind := o.GetObjectKind().GroupVersionKind().Kind
	if gvk, err := apiutil.GVKForObject(o.(runtime.Object), r.Scheme()); err == nil {
		kind = gvk.Kind
	}
	return opv1.ObjectRecord{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), UID: string(o.GetUID()), Detail: detail}
}

// destroyData deletes the workspace's volume claims and the PersistentVolumes bound to them.
// A bound volume is first switched to the Delete reclaim policy so that the storage system
// destroys the data rather than keeping it for someone to claim again.
func (r *Reconciler) destroyData(ctx context.Context, s *scope, step *opv1.TeardownStep) error {
	var claims corev1.PersistentVolumeClaimList
	if err := r.APIReader.List(ctx, &claims, client.InNamespace(s.ws.Status.Namespace)); err != nil {
		return err
	}
	var volumes []*corev1.PersistentVolume
	for i := range claims.Items {
		claim := &claims.Items[i]
		if claim.Spec.VolumeName == "" {
			continue
		}
		var pv corev1.PersistentVolume
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: claim.Spec.VolumeName}, &pv); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		// A claim's volumeName is whatever its writer typed; only a volume bound back to this
		// very claim is the workspace's to destroy, or a member could name a volume of the data
		// zone and have the operator delete it (R6, R4).
		if !boundTo(&pv, claim) {
			continue
		}
		volumes = append(volumes, &pv)
	}
	if r.recordVolumes(step, volumes) {
		if err := r.saveProgress(ctx, s); err != nil {
			return err
		}
	}
	for _, pv := range volumes {
		if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			patch := client.MergeFrom(pv.DeepCopy())
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
			if err := r.Patch(ctx, pv, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	if err := r.destroy(ctx, s, step, nil, listed(&corev1.PersistentVolumeClaimList{}, client.InNamespace(s.ws.Status.Namespace))); err != nil {
		return err
	}
	// Claims are gone; now make sure the volumes they were bound to are gone too.
	var pending []client.Object
	for _, rec := range step.Objects {
		if rec.Kind != "PersistentVolume" {
			continue
		}
		var pv corev1.PersistentVolume
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: rec.Name}, &pv)
		if apierrors.IsNotFound(err) || (err == nil && string(pv.UID) != rec.UID) {
			continue
		}
		if err != nil {
			return err
		}
		pending = append(pending, &pv)
	}
	for _, pv := range pending {
		if err := apply.Delete(ctx, r.Client, pv); err != nil {
			return err
		}
	}
	if len(pending) > 0 {
		return errWaiting
	}
	return nil
}

// boundTo reports whether pv and claim are bound to each other: the claim is Bound and the
// volume's claimRef names it by namespace, name and UID.
func boundTo(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	return claim.Status.Phase == corev1.ClaimBound && ref != nil &&
		ref.Namespace == claim.Namespace && ref.Name == claim.Name && ref.UID == claim.UID
}

func (r *Reconciler) recordVolumes(step *opv1.TeardownStep, volumes []*corev1.PersistentVolume) bool {
	records := make([]opv1.ObjectRecord, 0, len(volumes))
	for _, pv := range volumes {
		detail := fmt.Sprintf("bound to claim %s; reclaim policy was %s", claimOf(pv), pv.Spec.PersistentVolumeReclaimPolicy)
		if pv.Spec.StorageClassName != "" {
			detail += "; storage class " + pv.Spec.StorageClassName
		}
		records = append(records, r.objectRecord(pv, detail))
	}
	return addEvidence(step, records)
}

func claimOf(pv *corev1.PersistentVolume) string {
	if pv.Spec.ClaimRef == nil {
		return "(none)"
	}
	return pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
}

// writeRecord appends the evidence to the domain's chain. A restart between writing it and
// saving status finds it by the workspace's UID and writes nothing more.
func (r *Reconciler) writeRecord(ctx context.Context, s *scope) error {
	ws := s.ws
	t := ws.Status.Teardown
	if s.domain == nil {
		return fmt.Errorf("no OperationDomain has %s as its control namespace: cannot chain the TeardownRecord", ws.Namespace)
	}
	completed := t.StartedAt
	for _, st := range t.Steps {
		if st.CompletedAt != nil && st.CompletedAt.After(completed.Time) {
			completed = *st.CompletedAt
		}
	}
	name, err := evidence.Append(ctx, r.Client, r.APIReader, s.domain, opv1.TeardownRecordSpec{
		Subject:       opv1.ObjectRecord{Kind: kind, Namespace: ws.Namespace, Name: ws.Name, UID: string(ws.UID)},
		Authorization: ws.Spec.Authorization,
		Reason:        t.Reason,
		EndedBy:       t.EndedBy,
		StartedAt:     t.StartedAt,
		CompletedAt:   completed,
		Steps:         t.Steps,
	}, map[string]string{opv1.LabelOwnerKind: kind, opv1.LabelOwnerName: ws.Name, opv1.LabelOwnerNamespace: ws.Namespace})
	if err != nil {
		return fmt.Errorf("writing TeardownRecord: %w", err)
	}
	t.Record = name
	r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "TornDown", "Teardown", "torn down; evidence in TeardownRecord %s", name)
	ctrl.LoggerFrom(ctx).Info("workspace torn down", "record", name, "reason", t.Reason)
	return r.saveProgress(ctx, s)
}
