// Package authorization reconciles agreements (R2): it computes each one's phase from its term,
// suspension, termination and parent, and wakes up at the next boundary on the injected clock.
package authorization

import (
	"cmp"
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/lifecycle"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Reconciler reconciles Authorizations.
type Reconciler struct {
	client.Client
	// APIReader reads the evidence chain as stored, past the cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     wakeup.Clock
	Wakeups   *wakeup.Scheduler
}

// +kubebuilder:rbac:groups=opdomain.io,resources=authorizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=opdomain.io,resources=authorizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=teardownrecords,verbs=get;list;watch;create

// Reconcile computes one agreement's phase.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var a opv1.Authorization
	if err := r.Get(ctx, req.NamespacedName, &a); err != nil {
		if apierrors.IsNotFound(err) {
			r.Wakeups.At(&opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace}}, time.Time{})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &scope{agreement: &a, orig: a.DeepCopy()}
	defer func() {
		if err := r.patchStatus(ctx, s, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
		r.Wakeups.At(&a, s.outcome.Next)
	}()
	return r.reconcileNormal(ctx, s)
}

// endingRecord writes the agreement's own TeardownRecord once every grant under it is closed
// and every workspace torn down, naming the grants and the workspaces' records; it returns ""
// while any is still going.
func (r *Reconciler) endingRecord(ctx context.Context, a *opv1.Authorization, domain *opv1.OperationDomain, out lifecycle.Outcome) (string, error) {
	if domain == nil {
		return "", fmt.Errorf("no OperationDomain has %s as its control namespace: cannot chain the TeardownRecord", a.Namespace)
	}
	var workspaces opv1.DeveloperWorkspaceList
	if err := r.List(ctx, &workspaces, client.InNamespace(a.Namespace), client.MatchingFields{index.WorkspaceAuthorization: a.Name}); err != nil {
		return "", err
	}
	var records []opv1.ObjectRecord
	for _, ws := range workspaces.Items {
		t := ws.Status.Teardown
		if t == nil || t.Record == "" {
			return "", nil // the workspace's own record comes first
		}
		records = append(records, opv1.ObjectRecord{Kind: "TeardownRecord", Namespace: ws.Namespace, Name: t.Record,
			Detail: "teardown of DeveloperWorkspace " + ws.Name})
	}
	var grants opv1.DataGrantList
	if err := r.List(ctx, &grants, client.InNamespace(a.Namespace), client.MatchingFields{index.GrantAuthorization: a.Name}); err != nil {
		return "", err
	}
	var revoked []opv1.ObjectRecord
	for _, g := range grants.Items {
		if !g.Status.Phase.Ended() && g.DeletionTimestamp == nil {
			return "", nil // every grant is closed first
		}
		ready := meta.FindStatusCondition(g.Status.Conditions, opv1.ConditionReady)
		detail := string(g.Status.Phase)
		if ready != nil {
			detail += " (" + ready.Reason + "): " + ready.Message
		}
		revoked = append(revoked, opv1.ObjectRecord{Kind: "DataGrant", Namespace: g.Namespace, Name: g.Name, UID: string(g.UID), Detail: detail})
	}
	now := metav1.NewTime(r.Clock.Now())
	started := now
	if a.Status.EndedAt != nil {
		started = *a.Status.EndedAt
	}
	return evidence.Append(ctx, r.Client, r.APIReader, domain, opv1.TeardownRecordSpec{
		Subject:       opv1.ObjectRecord{Kind: "Authorization", Namespace: a.Namespace, Name: a.Name, UID: string(a.UID)},
		Authorization: a.Name,
		Reason:        string(out.EndReason),
		EndedBy:       cmp.Or(out.Message, string(out.EndReason)),
		StartedAt:     started,
		CompletedAt:   now,
		Steps: []opv1.TeardownStep{
			{Name: "grants", CompletedAt: &now, Objects: revoked},
			{Name: "workspaces", CompletedAt: &now, Objects: records},
		},
	}, map[string]string{opv1.LabelOwnerKind: "Authorization", opv1.LabelOwnerName: a.Name, opv1.LabelOwnerNamespace: a.Namespace})
}

// SetupWithManager watches agreements, their parents and the domains that bound their terms.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	children := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list opv1.AuthorizationList
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace(o.GetNamespace()),
			client.MatchingFields{index.AuthorizationParent: o.GetName()}); err != nil {
			return nil
		}
		return requests(list.Items)
	})
	sameParty := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list opv1.AuthorizationList
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		code := o.(*opv1.Authorization).Spec.Party.CreditCode
		var same []opv1.Authorization
		for _, a := range list.Items {
			if a.Spec.Party.CreditCode == code && a.Name != o.GetName() {
				same = append(same, a)
			}
		}
		return requests(same)
	})
	inDomain := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list opv1.AuthorizationList
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace(o.(*opv1.OperationDomain).Spec.ControlNamespace)); err != nil {
			return nil
		}
		return requests(list.Items)
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&opv1.Authorization{}).
		Watches(&opv1.Authorization{}, children).
		Watches(&opv1.Authorization{}, sameParty).
		Watches(&opv1.OperationDomain{}, inDomain, builder.WithPredicates(index.DomainChanges)).
		// A workspace finishing its teardown, or a grant closing, lets an ended agreement write
		// its own record.
		Watches(&opv1.DeveloperWorkspace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*opv1.DeveloperWorkspace).Spec.Authorization}}}
		})).
		Watches(&opv1.DataGrant{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*opv1.DataGrant).Spec.Authorization}}}
		})).
		WatchesRawSource(r.Wakeups.Source()).
		// Agreements are independent of each other, and their boundaries bunch (terms end at
		// midnight, a domain's stop ends them all): one agreement's end must not wait behind
		// another's teardown bookkeeping.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("authorization").
		Complete(r)
}

func requests(items []opv1.Authorization) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for _, a := range items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return out
}
