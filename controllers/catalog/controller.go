// Package catalog reconciles DataResources, the domain's data catalog (R4): a resource is
// offerable while it is off the domain's negative list and its source exists in the data zone.
// Grants open paths only to offerable resources.
package catalog

import (
	"context"
	"fmt"
	"slices"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/index"
)

// Reconciler reconciles DataResources.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Snapshots says whether the cluster serves the VolumeSnapshot API.
	Snapshots bool
}

// +kubebuilder:rbac:groups=opdomain.io,resources=dataresources,verbs=get;list;watch
// +kubebuilder:rbac:groups=opdomain.io,resources=dataresources/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshots,verbs=get;list;watch

// Reconcile computes whether one resource is offerable.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var res opv1.DataResource
	if err := r.Get(ctx, req.NamespacedName, &res); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := res.DeepCopy()
	summary, err := r.offer(ctx, &res)
	res.Status.Offerable = summary.Ready
	r.announce(&res, orig.Status.Offerable, summary, err)
	if perr := conditions.Write(ctx, r.Client, &res, orig, &res.Status.Conditions, &res.Status.ObservedGeneration, summary, err); perr != nil {
		return ctrl.Result{}, client.IgnoreNotFound(perr)
	}
	return ctrl.Result{}, err
}

// announce tells whoever watches the catalog that a resource was withdrawn from it or offered
// (again): every grant naming a withdrawn resource closes until it is offered again (each grant
// says so in its own Events), and the resource's Events say why.
func (r *Reconciler) announce(res *opv1.DataResource, was bool, s conditions.Summary, err error) {
	switch {
	case err != nil || was == s.Ready:
	case s.Ready:
		r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, "Offered", "Offer", "the resource is offered: grants may name it")
	default:
		r.Recorder.Eventf(res, nil, corev1.EventTypeWarning, s.Reason, "Withdraw",
			"the resource is no longer offered, and every grant naming it closes until it is: %s", s.Message)
	}
}

func (r *Reconciler) offer(ctx context.Context, res *opv1.DataResource) (conditions.Summary, error) {
	domain, err := index.DomainFor(ctx, r.Client, res.Namespace)
	switch {
	case err != nil:
		return conditions.Summary{}, err
	case domain == nil:
		return conditions.Summary{Reason: opv1.ReasonDomainNotFound, Message: "no OperationDomain has this namespace as its control namespace"}, nil
	case slices.Contains(domain.Spec.NegativeList, res.Name):
		return conditions.Summary{Reason: opv1.ReasonNegativeListed, Message: "the resource is on the domain's negative list (YN art. 15)"}, nil
	}
	zone := domain.Spec.DataZoneNamespace
	missing := func(msg string) (conditions.Summary, error) {
		return conditions.Summary{Reason: opv1.ReasonSourceNotFound, Message: "spec.source: " + msg}, nil
	}
	switch src := res.Spec.Source; {
	case src.Service != nil:
		var svc corev1.Service
		if err := r.Get(ctx, client.ObjectKey{Namespace: zone, Name: src.Service.Name}, &svc); err != nil {
			if apierrors.IsNotFound(err) {
				return missing(fmt.Sprintf("Service %s/%s not found", zone, src.Service.Name))
			}
			return conditions.Summary{}, err
		}
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == src.Service.Port }) {
			return missing(fmt.Sprintf("Service %s/%s has no port %d", zone, src.Service.Name, src.Service.Port))
		}
		if len(svc.Spec.Selector) == 0 {
			// A path is opened to the pods the selector picks; without one there is nothing to open to.
			return missing(fmt.Sprintf("Service %s/%s has no pod selector", zone, src.Service.Name))
		}
	case src.VolumeSnapshot != nil:
		if !r.Snapshots {
			return missing("the cluster does not serve the VolumeSnapshot API (snapshot.storage.k8s.io/v1)")
		}
		var snap snapshotv1.VolumeSnapshot
		if err := r.Get(ctx, client.ObjectKey{Namespace: zone, Name: src.VolumeSnapshot.Name}, &snap); err != nil {
			if apierrors.IsNotFound(err) {
				return missing(fmt.Sprintf("VolumeSnapshot %s/%s not found", zone, src.VolumeSnapshot.Name))
			}
			return conditions.Summary{}, err
		}
	}
	return conditions.Summary{Ready: true, Reason: opv1.ReasonReconciled, Message: "offerable"}, nil
}

// SetupWithManager watches resources, the domains whose negative lists and data zones decide
// them, and the data-zone objects they name.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	inDomain := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.resourcesOf(ctx, o.(*opv1.OperationDomain))
	})
	fromZone := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var domains opv1.OperationDomainList
		if err := r.List(ctx, &domains); err != nil {
			return nil
		}
		var out []reconcile.Request
		for i := range domains.Items {
			if domains.Items[i].Spec.DataZoneNamespace == o.GetNamespace() {
				out = append(out, r.resourcesOf(ctx, &domains.Items[i])...)
			}
		}
		return out
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&opv1.DataResource{}).
		Watches(&opv1.OperationDomain{}, inDomain, builder.WithPredicates(index.DomainChanges)).
		Watches(&corev1.Service{}, fromZone)
	if r.Snapshots {
		b = b.Watches(&snapshotv1.VolumeSnapshot{}, fromZone)
	}
	return b.Named("dataresource").Complete(r)
}

func (r *Reconciler) resourcesOf(ctx context.Context, d *opv1.OperationDomain) []reconcile.Request {
	return index.Requests(ctx, r, &opv1.DataResourceList{}, client.InNamespace(d.Spec.ControlNamespace))
}
