// Package gate keeps each agreement's gates: one ClusterRole per visibility carrying the member
// rules while the agreement's members may act, none otherwise (R2: access follows the agreement
// at once; R7: the emergency stop cuts in one action). Every member RoleBinding under the
// agreement refers to one of them, so a suspension, termination, term end, parent's end or
// emergency stop cuts every member of every workspace with three writes, and this controller
// does nothing else: no provisioning work queues ahead of a cut.
package gate

import (
	"context"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/rbac"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// component labels every gate.
const component = rbac.GateComponent

// Reconciler opens and closes the gates of one agreement at a time.
type Reconciler struct {
	client.Client
	Clock   wakeup.Clock
	Wakeups *wakeup.Scheduler
}

// The operator holds every rule it puts in a gate (pods/log and the scale subresources too), as
// RBAC requires of whoever writes a ClusterRole without the escalate verb.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=get;list;watch;create;update;patch;delete;deletecollection;bind
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups=apps,resources=deployments/scale;statefulsets/scale,verbs=get;update;patch

// Reconcile opens or closes an agreement's gates, and removes them once the agreement is gone.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	a, err := index.Lookup[opv1.Authorization](ctx, r.Client, req.Namespace, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if a == nil {
		r.Wakeups.At(&opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace}}, time.Time{})
		return ctrl.Result{}, client.IgnoreNotFound(r.DeleteAllOf(ctx, &rbacv1.ClusterRole{}, ownedBy(req.Namespace, req.Name)))
	}
	d, err := index.DomainFor(ctx, r.Client, a.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	var parent *opv1.Authorization
	if a.Spec.Role == opv1.RoleDeveloper {
		if parent, err = index.Lookup[opv1.Authorization](ctx, r.Client, a.Namespace, a.Spec.Parent); err != nil {
			return ctrl.Result{}, err
		}
	}
	if d == nil {
		// No domain, no gate: nothing can be bound to it either.
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	open, _, _ := rules.MembersMayAct(d, a, parent, now)
	labels := map[string]string{
		opv1.LabelDomain: d.Name, opv1.LabelComponent: component,
		opv1.LabelOwnerKind: "Authorization", opv1.LabelOwnerName: a.Name, opv1.LabelOwnerNamespace: a.Namespace,
	}
	wasOpen := false
	for _, v := range rbac.Visibilities {
		var gate rbacv1.ClusterRole
		if err := r.Get(ctx, client.ObjectKey{Name: rbac.GateName(d.Name, a.Name, v)}, &gate); err == nil && len(gate.Rules) > 0 {
			wasOpen = true
		}
		if err := apply.Cached(ctx, r.Client, rbac.Gate(rbac.GateName(d.Name, a.Name, v), labels, v, open)); err != nil {
			return ctrl.Result{}, err
		}
	}
	observeCut(a, parent, wasOpen, open, now)
	// The term's edges open and close the gate on the operator's clock, whatever the phase says.
	next := time.Time{}
	for _, t := range []*opv1.Authorization{a, parent} {
		if t == nil {
			continue
		}
		for _, edge := range []metav1.Time{t.Spec.Term.Start, t.Spec.Term.End} {
			if edge.After(now) {
				next = wakeup.Earliest(next, edge.Time)
			}
		}
	}
	r.Wakeups.At(a, next)
	return ctrl.Result{}, nil
}

// observeCut measures a cut this reconcile made: from the boundary the watch delivered, or, for
// a term that ran out, from its end on the operator's clock.
func observeCut(a, parent *opv1.Authorization, wasOpen, open bool, now time.Time) {
	key := cutKey(a.Namespace, a.Name)
	switch {
	case open, !wasOpen: // nothing was cut now
		metrics.Boundaries.Forget(key)
	case !metrics.Boundaries.Cut(key):
		for _, t := range []*opv1.Authorization{a, parent} {
			if t != nil && !t.Spec.Term.End.After(now) {
				metrics.AccessCut.WithLabelValues(metrics.BoundaryTermEnd).Observe(now.Sub(t.Spec.Term.End.Time).Seconds())
				return
			}
		}
	}
}

func cutKey(namespace, name string) string { return "Authorization/" + namespace + "/" + name }

// boundary names what, from old to updated, ends the agreement members' access, or "".
func boundary(old, updated *opv1.Authorization) string {
	switch {
	case old.Spec.Suspension == nil && updated.Spec.Suspension != nil:
		return metrics.BoundarySuspension
	case old.Spec.Termination == nil && updated.Spec.Termination != nil:
		return metrics.BoundaryTermination
	case old.Status.Phase == opv1.PhaseActive && updated.Status.Phase != opv1.PhaseActive:
		return metrics.BoundaryPhase
	}
	return ""
}

// noteBoundaries notes, as the watch delivers it, a change that ends access: the agreement's,
// and its children's, whose access ends with it (they are noted as the parent's); it filters
// nothing.
func (r *Reconciler) noteBoundaries() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*opv1.Authorization)
		updated, newOK := e.ObjectNew.(*opv1.Authorization)
		if !oldOK || !newOK {
			return true
		}
		b := boundary(old, updated)
		if b == "" {
			return true
		}
		metrics.Boundaries.Note(cutKey(updated.Namespace, updated.Name), b)
		var children opv1.AuthorizationList
		// From the cache: a failure only leaves the children's cut unmeasured.
		if r.List(context.Background(), &children, client.InNamespace(updated.Namespace), client.MatchingFields{index.AuthorizationParent: updated.Name}) == nil {
			for _, c := range children.Items {
				metrics.Boundaries.Note(cutKey(c.Namespace, c.Name), metrics.BoundaryParent)
			}
		}
		return true
	}}
}

func ownedBy(namespace, name string) client.MatchingLabels {
	return client.MatchingLabels{opv1.LabelComponent: component, opv1.LabelOwnerNamespace: namespace, opv1.LabelOwnerName: name}
}

// SetupWithManager watches agreements (a parent's change reaches its children), domains (the
// emergency stop and the admission proof reach every agreement of the domain) and the gates
// themselves, so an edited gate is put back.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	children := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.agreements(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{index.AuthorizationParent: o.GetName()})
	})
	byDomain := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.agreements(ctx, client.InNamespace(o.(*opv1.OperationDomain).Spec.ControlNamespace))
	})
	toOwner := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[opv1.LabelComponent] != component {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[opv1.LabelOwnerNamespace], Name: l[opv1.LabelOwnerName]}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("gate").
		For(&opv1.Authorization{}, builder.WithPredicates(r.noteBoundaries())).
		Watches(&opv1.Authorization{}, children).
		Watches(&opv1.OperationDomain{}, byDomain, builder.WithPredicates(index.DomainChanges)).
		Watches(&rbacv1.ClusterRole{}, toOwner).
		WatchesRawSource(r.Wakeups.Source()).
		// Gates are independent of each other; a domain's stop closes them all at once.
		WithOptions(controller.Options{MaxConcurrentReconciles: 8}).
		Complete(r)
}

func (r *Reconciler) agreements(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	return index.Requests(ctx, r, &opv1.AuthorizationList{}, opts...)
}

// CloseAll closes every open gate of a domain: the emergency stop's first writes, made by the
// domain itself ahead of everything else the stop sets off (R7: one action). It writes what the
// gate controller would (apply.Cached: a gate the cache or a recent write shows open is closed),
// so the gate controller, woken by the same change, finds nothing left to do.
func CloseAll(ctx context.Context, c client.Client, domain string) error {
	var gates rbacv1.ClusterRoleList
	if err := c.List(ctx, &gates, client.MatchingLabels{opv1.LabelDomain: domain, opv1.LabelComponent: component}); err != nil {
		return err
	}
	for i := range gates.Items {
		g := &gates.Items[i]
		if err := apply.Cached(ctx, c, rbac.Gate(g.Name, g.Labels, rbac.Sealed, false)); err != nil {
			return err
		}
	}
	return nil
}
