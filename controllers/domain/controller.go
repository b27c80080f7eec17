// Package domain reconciles OperationDomains (R1): the control and data-zone namespaces, their
// default-deny policies, and the admission policy that refuses what RBAC cannot express.
package domain

import (
	"context"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Reconciler reconciles OperationDomains.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, for namespaces that do not carry the domain label yet.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     wakeup.Clock
	// Wakeups wakes a domain when its oldest evidence record's retention runs out.
	Wakeups *wakeup.Scheduler
	DNS     policy.DNS
	// Introspection is where the manager's token introspection runs, which the data zone may
	// reach, and IntrospectionEndpoint how data services address and trust it.
	Introspection         policy.Peer
	IntrospectionEndpoint grant.Endpoint
	// Operator is the operator's own user name, the one identity the admission policy lets
	// make claims from a data source (the copies a volume grant delivers).
	Operator string
	// Cilium says whether the CiliumNetworkPolicy API is served; without it a domain asking
	// for Cilium isolation stalls instead of pretending to be isolated.
	Cilium bool
	// Fence is the network fence every workspace pod starts with; the zero Config adds none.
	Fence fence.Config
}

// +kubebuilder:rbac:groups=opdomain.io,resources=operationdomains,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=operationdomains/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=opdomain.io,resources=operationdomains/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings;mutatingadmissionpolicies;mutatingadmissionpolicybindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch

// Reconcile brings one domain to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var d opv1.OperationDomain
	if err := r.Get(ctx, req.NamespacedName, &d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if d.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&d, opv1.Finalizer) {
		patch := client.MergeFrom(d.DeepCopy())
		controllerutil.AddFinalizer(&d, opv1.Finalizer)
		return ctrl.Result{}, r.Patch(ctx, &d, patch)
	}

	s := &scope{domain: &d, orig: d.DeepCopy()}
	defer func() {
		if err := r.patchStatus(ctx, s, retErr); err != nil && !apierrors.IsNotFound(err) {
			retErr = err
		}
	}()
	if !d.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	return r.reconcileNormal(ctx, s)
}

// SetupWithManager watches domains, the namespaces and policies they own, and the shared
// admission policy, so drift is healed as soon as it happens.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toDomain := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if name := o.GetLabels()[opv1.LabelDomain]; name != "" && o.GetLabels()[opv1.LabelOwnerKind] == kind {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
		}
		return nil
	})
	toAllDomains := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		return index.Requests(ctx, mgr.GetClient(), &opv1.OperationDomainList{})
	})
	toOwningDomain := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		d, err := index.DomainFor(ctx, mgr.GetClient(), o.GetNamespace())
		if err != nil || d == nil {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: d.Name}}}
	})
	// A domain's resolver Service appearing, going or changing address changes its DNS.
	toResolving := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list opv1.OperationDomainList
		if err := mgr.GetClient().List(ctx, &list); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, d := range list.Items {
			if ref := d.Spec.DNS.Resolver; ref != nil && ref.Namespace == o.GetNamespace() && ref.Name == o.GetName() {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: d.Name}})
			}
		}
		return reqs
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&opv1.OperationDomain{}, builder.WithPredicates(noteStops)).
		Watches(&corev1.Namespace{}, toDomain).
		Watches(&corev1.Service{}, toResolving).
		Watches(&networkingv1.NetworkPolicy{}, toDomain).
		Watches(&admissionregistrationv1.ValidatingAdmissionPolicy{}, toAllDomains).
		Watches(&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, toAllDomains).
		Watches(&admissionregistrationv1.MutatingAdmissionPolicy{}, toAllDomains).
		Watches(&admissionregistrationv1.MutatingAdmissionPolicyBinding{}, toAllDomains).
		// Agreements ending feed the blacklist; agreements and workspaces going away may unblock
		// a domain's deletion.
		Watches(&opv1.Authorization{}, toOwningDomain, builder.WithPredicates(phaseChangesAndDeletes(func(o client.Object) string {
			// An ended agreement still owes its record, which a domain being deleted waits for.
			a := o.(*opv1.Authorization)
			return string(a.Status.Phase) + "/" + a.Status.TeardownRecord
		}))).
		Watches(&opv1.DeveloperWorkspace{}, toOwningDomain, builder.WithPredicates(phaseChangesAndDeletes(func(o client.Object) string {
			return string(o.(*opv1.DeveloperWorkspace).Status.Phase)
		}))).
		Watches(&opv1.TeardownRecord{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if name := o.GetLabels()[opv1.LabelDomain]; name != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
			}
			return nil
		})).
		WatchesRawSource(r.Wakeups.Source()).
		Named("operationdomain")
	if r.Cilium {
		b = b.Watches(&ciliumv2.CiliumNetworkPolicy{}, toDomain)
	}
	return b.Complete(r)
}

// stopKey is the domain's emergency stop, as metrics.Boundaries knows it.
func stopKey(domain string) string { return "OperationDomain/" + domain }

// noteStops notes an emergency stop as the watch delivers it; it filters nothing.
var noteStops = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	old, oldOK := e.ObjectOld.(*opv1.OperationDomain)
	updated, newOK := e.ObjectNew.(*opv1.OperationDomain)
	if oldOK && newOK && !old.Spec.EmergencyStop.Active && updated.Spec.EmergencyStop.Active {
		metrics.Boundaries.Note(stopKey(updated.Name), metrics.BoundaryEmergencyStop)
	}
	return true
}}

// phaseChangesAndDeletes passes what may end an agreement or a workspace: a change of phase
// (as phase reads it), or its deletion. Every other update — a workspace's status while it
// provisions — changes nothing for its domain, and waking the domain for each cost a dry-run
// and a reconcile.
func phaseChangesAndDeletes(phase func(client.Object) string) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.TypedCreateEvent[client.Object]) bool { return false },
		UpdateFunc:  func(e event.TypedUpdateEvent[client.Object]) bool { return phase(e.ObjectOld) != phase(e.ObjectNew) },
		GenericFunc: func(event.TypedGenericEvent[client.Object]) bool { return false },
	}
}

const kind = "OperationDomain"
