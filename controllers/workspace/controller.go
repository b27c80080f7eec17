// Package workspace reconciles DeveloperWorkspaces (R3): an isolated namespace per workspace,
// least-privilege RBAC, expiring per-member credentials, access cut while the agreement is not
// in force or the domain is stopped, and an ordered, resumable, recorded teardown (R6).
package workspace

import (
	"context"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/rbac"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

const kind = opv1.OwnerKindWorkspace

// Reconciler reconciles DeveloperWorkspaces.
type Reconciler struct {
	client.Client
	// APIReader lists what members created in a workspace (pods, workloads, volumes), which
	// carries no opdomain label and so is not in the manager's cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     wakeup.Clock
	Wakeups   *wakeup.Scheduler
	DNS       policy.DNS
	Cilium    bool
	// Kubeconfig is what member kubeconfigs point at: the API server's address as members
	// reach it, and its CA bundle.
	Kubeconfig KubeconfigTarget
	// Workers is how many workspaces are reconciled at once; an emergency stop cuts every
	// workspace of a domain, and they do not depend on each other.
	Workers int
}

// KubeconfigTarget is the API server a member's kubeconfig points at.
type KubeconfigTarget struct {
	Server string
	CAData []byte
}

// +kubebuilder:rbac:groups=opdomain.io,resources=developerworkspaces,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=developerworkspaces/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=developerworkspaces/finalizers,verbs=update
// +kubebuilder:rbac:groups=opdomain.io,resources=teardownrecords,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=serviceaccounts;secrets;resourcequotas;limitranges;persistentvolumeclaims;pods;services;configmaps,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;replicasets,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete;bind;escalate
// +kubebuilder:rbac:groups="",resources=pods/status;events,verbs=get;list;watch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataimports,verbs=get;list;watch

// Reconcile brings one workspace to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var ws opv1.DeveloperWorkspace
	if err := r.Get(ctx, req.NamespacedName, &ws); err != nil {
		if apierrors.IsNotFound(err) {
			r.Wakeups.At(&opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace}}, time.Time{})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ws.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&ws, opv1.Finalizer) {
		patch := client.MergeFrom(ws.DeepCopy())
		controllerutil.AddFinalizer(&ws, opv1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, &ws, patch)
	}
	s := &scope{ws: &ws, orig: ws.DeepCopy(), now: r.Clock.Now()}
	defer func() {
		if err := r.patchStatus(ctx, s, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
		r.Wakeups.At(&ws, s.next)
	}()
	if err := r.resolve(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if reason, endedBy, ok := s.teardownCause(); ok {
		return r.reconcileDelete(ctx, s, reason, endedBy)
	}
	return r.reconcileNormal(ctx, s)
}

// SetupWithManager watches workspaces, everything they own, their agreements and domains.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toOwner := index.ToOwner(kind)
	byAuthorization := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		if o.(*opv1.Authorization).Spec.Role == opv1.RoleOperator {
			// Its persons may not be members of any developer workspace in the domain.
			return r.workspaces(ctx, client.InNamespace(o.GetNamespace()))
		}
		return r.workspaces(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{index.WorkspaceAuthorization: o.GetName()})
	})
	byDomain := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.workspaces(ctx, client.InNamespace(o.(*opv1.OperationDomain).Spec.ControlNamespace))
	})
	byGate := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[opv1.LabelComponent] != rbac.GateComponent {
			return nil
		}
		return r.workspaces(ctx, client.InNamespace(l[opv1.LabelOwnerNamespace]), client.MatchingFields{index.WorkspaceAuthorization: l[opv1.LabelOwnerName]})
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&opv1.DeveloperWorkspace{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Namespace{}, toOwner).
		Watches(&corev1.ResourceQuota{}, toOwner).
		Watches(&corev1.LimitRange{}, toOwner).
		Watches(&networkingv1.NetworkPolicy{}, toOwner).
		Watches(&rbacv1.Role{}, toOwner).
		Watches(&rbacv1.RoleBinding{}, toOwner).
		Watches(&rbacv1.ClusterRole{}, byGate).
		Watches(&opv1.Authorization{}, byAuthorization).
		Watches(&opv1.OperationDomain{}, byDomain, builder.WithPredicates(index.DomainChanges)).
		// Grants decide whether members may read pod logs.
		Watches(&opv1.DataGrant{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*opv1.DataGrant).Spec.Workspace}}}
		})).
		// Imports make its catalog.
		Watches(&opv1.DataImport{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*opv1.DataImport).Spec.Workspace}}}
		})).
		WatchesRawSource(r.Wakeups.Source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("developerworkspace")
	if r.Cilium {
		b = b.Watches(&ciliumv2.CiliumNetworkPolicy{}, toOwner)
	}
	return b.Complete(r)
}

func (r *Reconciler) workspaces(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	return index.Requests(ctx, r, &opv1.DeveloperWorkspaceList{}, opts...)
}
