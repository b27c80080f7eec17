package grant

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Reconciler reconciles DataGrants.
type Reconciler struct {
	client.Client
	// APIReader reads the signing keys as stored.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     wakeup.Clock
	Wakeups   *wakeup.Scheduler
	// Cilium and Snapshots say whether the cluster serves CiliumNetworkPolicy and VolumeSnapshot.
	Cilium, Snapshots bool
	// KeyRotation is how long a grant-token signing key signs before a new one takes over.
	KeyRotation time.Duration
}

// +kubebuilder:rbac:groups=opdomain.io,resources=datagrants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=datagrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=datagrants/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=deletecollection

// Reconcile opens or closes one grant's path.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var g opv1.DataGrant
	if err := r.Get(ctx, req.NamespacedName, &g); err != nil {
		r.Wakeups.At(&opv1.DataGrant{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace}}, time.Time{})
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if g.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&g, opv1.FinalizerGrantPath) {
		patch := client.MergeFrom(g.DeepCopy())
		controllerutil.AddFinalizer(&g, opv1.FinalizerGrantPath)
		return ctrl.Result{}, r.Patch(ctx, &g, patch)
	}
	s := &scope{grant: &g, orig: g.DeepCopy()}
	defer func() {
		if err := r.patchStatus(ctx, s, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
		r.Wakeups.At(&g, s.outcome.Next)
	}()
	if !g.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	return r.reconcileNormal(ctx, s)
}

// open applies the grant's path in the renderings the domain asks for, issues its token and
// records what it opened in the grant's status.
func (r *Reconciler) open(ctx context.Context, g *opv1.DataGrant, w rules.GrantWorld) error {
	path, err := r.path(ctx, g, w)
	if err != nil {
		return err
	}
	mode := w.Domain.Spec.NetworkPolicy
	var opened []opv1.ObjectRecord
	record := func(o client.Object) {
		opened = append(opened, opv1.ObjectRecord{Kind: r.kindOf(o), Namespace: o.GetNamespace(), Name: o.GetName(), UID: string(o.GetUID())})
	}
	volumes, err := r.volumes(ctx, g, w, path.Workspace, path.Labels)
	if err != nil {
		return err
	}
	for _, v := range volumes {
		if err := apply.Object(ctx, r.Client, v); err != nil {
			return err
		}
		record(v)
	}
	if mode.Kubernetes() {
		for _, np := range path.Kubernetes() {
			if err := apply.Cached(ctx, r.Client, np); err != nil {
				return err
			}
			record(np)
		}
	}
	if mode.Cilium() && r.Cilium {
		for _, cnp := range path.Cilium() {
			if err := apply.Cached(ctx, r.Client, cnp); err != nil {
				return err
			}
			record(cnp)
		}
	}
	cred, secret, err := r.issueToken(ctx, g, w.Domain, w.Agreement, path.Workspace)
	if err != nil {
		return err
	}
	opened = append(opened, secret)
	// A target or a rendering no longer wanted goes.
	if err := r.deleteExcept(ctx, g, opened); err != nil {
		return err
	}
	g.Status.Opened, g.Status.ExpiresAt, g.Status.Credential = opened, &cred.ExpiresAt, cred
	return nil
}

// path builds the grant's network path from the Services its resources name.
func (r *Reconciler) path(ctx context.Context, g *opv1.DataGrant, w rules.GrantWorld) (policy.GrantPath, error) {
	d := w.Domain
	path := policy.GrantPath{
		Grant: g.Name, Workspace: w.Workspace.Status.Namespace, DataZone: d.Spec.DataZoneNamespace,
		Labels: map[string]string{opv1.LabelDomain: d.Name, opv1.LabelOwnerKind: "DataGrant", opv1.LabelOwnerName: g.Name, opv1.LabelOwnerNamespace: g.Namespace},
	}
	for _, item := range g.Spec.Items {
		src := w.Resources[item.Resource].Spec.Source.Service
		if src == nil {
			continue // volume sources are delivered as volumes, not paths
		}
		var svc corev1.Service
		if err := r.Get(ctx, client.ObjectKey{Namespace: d.Spec.DataZoneNamespace, Name: src.Name}, &svc); err != nil {
			return path, fmt.Errorf("reading Service %s of DataResource %s: %w", src.Name, item.Resource, err)
		}
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == src.Port })
		if i < 0 || len(svc.Spec.Selector) == 0 {
			return path, fmt.Errorf("the Service %s/%s no longer serves port %d to selected pods", svc.Namespace, svc.Name, src.Port)
		}
		port := svc.Spec.Ports[i]
		target := port.TargetPort
		if target == (intstr.IntOrString{}) {
			target = intstr.FromInt32(port.Port)
		}
		path.Targets = append(path.Targets, policy.Target{PodLabels: svc.Spec.Selector, Port: target, Protocol: cmp.Or(port.Protocol, corev1.ProtocolTCP)})
	}
	return path, nil
}

// close deletes every policy, token and volume copy of the grant, wherever they are, ends the
// pods that ran while it was open, and retires the domain's signing keys its token alone kept
// (d may be nil: no domain, no keys).
func (r *Reconciler) close(ctx context.Context, g *opv1.DataGrant, d *opv1.OperationDomain) error {
	if err := r.deleteExcept(ctx, g, nil); err != nil {
		return err
	}
	if err := r.endPods(ctx, g, d); err != nil || d == nil {
		return err
	}
	return r.retireKeys(ctx, d, g.Name)
}

// endPods deletes every pod in the namespaces a grant's path was open to, besides the data
// zone, while its status still records that path (so once per closing, again only after a
// restart mid-close). Deleting the policies stops new connections only: an enforcer keeps an
// established one (conntrack), and a pod keeps a volume copy mounted after its claim is
// deleted. Ending the pods ends both; their controllers start new ones under the closed path.
func (r *Reconciler) endPods(ctx context.Context, g *opv1.DataGrant, d *opv1.OperationDomain) error {
	ended := map[string]bool{}
	for _, o := range g.Status.Opened {
		if o.Namespace == "" || ended[o.Namespace] || (d != nil && o.Namespace == d.Spec.DataZoneNamespace) {
			continue
		}
		ended[o.Namespace] = true
		if err := r.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(o.Namespace)); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(g, nil, corev1.EventTypeNormal, "PodsEnded", "Close",
			"ended the pods of %s: a connection or volume copy opened under the grant must not outlive it", o.Namespace)
	}
	return nil
}

// deleteExcept deletes the grant's policies and token Secret in every namespace it may have
// opened them in, except those kept.
func (r *Reconciler) deleteExcept(ctx context.Context, g *opv1.DataGrant, keep []opv1.ObjectRecord) error {
	sel := client.MatchingLabels{opv1.LabelOwnerKind: "DataGrant", opv1.LabelOwnerName: g.Name, opv1.LabelOwnerNamespace: g.Namespace}
	kept := func(o client.Object) bool {
		return slices.ContainsFunc(keep, func(k opv1.ObjectRecord) bool {
			return k.Kind == r.kindOf(o) && k.Namespace == o.GetNamespace() && k.Name == o.GetName()
		})
	}
	// Claims before the snapshots they were restored from, copies of contents last.
	lists := []client.ObjectList{&networkingv1.NetworkPolicyList{}, &corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}}
	if r.Cilium {
		lists = append(lists, &ciliumv2.CiliumNetworkPolicyList{})
	}
	if r.Snapshots {
		lists = append(lists, &snapshotv1.VolumeSnapshotList{}, &snapshotv1.VolumeSnapshotContentList{})
	}
	var errs []error
	for _, list := range lists {
		if err := r.List(ctx, list, sel); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			if o := item.(client.Object); !kept(o) {
				errs = append(errs, apply.Delete(ctx, r.Client, o))
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) kindOf(o client.Object) string {
	gvk, err := apiutil.GVKForObject(o, r.Scheme())
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	return gvk.Kind
}

// SetupWithManager watches grants and everything their phase depends on.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	// Each change delivered is noted, as a possible boundary, for every open grant it concerns:
	// the reconcile that finds the grant still open forgets it, the one that closes it measures
	// the cut from it (metrics.GrantCut).
	by := func(boundary, field string, value func(client.Object) (string, string)) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			ns, v := value(o)
			opts := []client.ListOption{client.InNamespace(ns)}
			if field != "" {
				opts = append(opts, client.MatchingFields{field: v})
			}
			var grants opv1.DataGrantList
			requests := index.Requests(ctx, r, &grants, opts...)
			for i := range grants.Items {
				if g := &grants.Items[i]; g.Status.Phase == opv1.GrantActive {
					metrics.GrantBoundaries.Note(cutKey(g), boundary)
				}
			}
			return requests
		})
	}
	own := func(o client.Object) (string, string) { return o.GetNamespace(), o.GetName() }
	return ctrl.NewControllerManagedBy(mgr).
		For(&opv1.DataGrant{}, builder.WithPredicates(noteGrantChanges)).
		Watches(&opv1.Authorization{}, by(metrics.BoundaryAgreement, index.GrantAuthorization, own)).
		Watches(&opv1.DeveloperWorkspace{}, by(metrics.BoundaryWorkspace, index.GrantWorkspace, own)).
		Watches(&opv1.DataResource{}, by(metrics.BoundaryResource, index.GrantResource, own)).
		Watches(&opv1.OperationDomain{}, by(metrics.BoundaryDomain, "", func(o client.Object) (string, string) {
			return o.(*opv1.OperationDomain).Spec.ControlNamespace, ""
		}), builder.WithPredicates(index.DomainChanges)).
		WatchesRawSource(r.Wakeups.Source()).
		Named("datagrant").
		Complete(r)
}

// noteGrantChanges notes, as the watch delivers it, a change to an open grant's spec or its
// deletion; it filters nothing.
var noteGrantChanges = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	old, oldOK := e.ObjectOld.(*opv1.DataGrant)
	updated, newOK := e.ObjectNew.(*opv1.DataGrant)
	if oldOK && newOK && old.Status.Phase == opv1.GrantActive &&
		(old.Generation != updated.Generation || old.DeletionTimestamp.IsZero() && !updated.DeletionTimestamp.IsZero()) {
		metrics.GrantBoundaries.Note(cutKey(updated), metrics.BoundaryGrant)
	}
	return true
}}

// cutKey is the grant as metrics.GrantBoundaries knows it.
func cutKey(g *opv1.DataGrant) string { return "DataGrant/" + g.Namespace + "/" + g.Name }

// observeCut measures, once a reconcile has closed an open grant's paths, the cut: from its
// expiry when that is what closed it, else from the boundary the watch delivered. open says the
// grant stays open: what was noted did not close it.
func observeCut(g, orig *opv1.DataGrant, open bool, now time.Time) {
	key := cutKey(g)
	switch expiresAt := orig.Status.ExpiresAt; {
	case open:
		metrics.GrantBoundaries.Forget(key)
	case orig.Status.Phase != opv1.GrantActive:
		metrics.GrantBoundaries.Forget(key) // already closed: nothing was cut now
	case expiresAt != nil && !expiresAt.After(now):
		metrics.GrantBoundaries.Forget(key)
		metrics.GrantCut.WithLabelValues(metrics.BoundaryGrantExpiry).Observe(now.Sub(expiresAt.Time).Seconds())
	default:
		metrics.GrantBoundaries.Cut(key)
	}
}
