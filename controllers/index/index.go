// Package index registers the field indexes the controllers look objects up by, and maps a
// watched object onto the objects that depend on it.
package index

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Index field names.
const (
	DomainControlNamespace = "spec.controlNamespace"
	WorkspaceAuthorization = "spec.authorization"
	AuthorizationParent    = "spec.parent"
	GrantAuthorization     = "grant.spec.authorization"
	GrantWorkspace         = "grant.spec.workspace"
	GrantResource          = "grant.spec.items.resource"
)

// Register adds every index to the manager's cache.
func Register(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &opv1.OperationDomain{}, DomainControlNamespace, func(o client.Object) []string {
		return []string{o.(*opv1.OperationDomain).Spec.ControlNamespace}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &opv1.DeveloperWorkspace{}, WorkspaceAuthorization, func(o client.Object) []string {
		return []string{o.(*opv1.DeveloperWorkspace).Spec.Authorization}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &opv1.Authorization{}, AuthorizationParent, func(o client.Object) []string {
		if p := o.(*opv1.Authorization).Spec.Parent; p != "" {
			return []string{p}
		}
		return nil
	}); err != nil {
		return err
	}
	for name, values := range map[string]func(*opv1.DataGrant) []string{
		GrantAuthorization: func(g *opv1.DataGrant) []string { return []string{g.Spec.Authorization} },
		GrantWorkspace:     func(g *opv1.DataGrant) []string { return []string{g.Spec.Workspace} },
		GrantResource: func(g *opv1.DataGrant) []string {
			out := make([]string, 0, len(g.Spec.Items))
			for _, item := range g.Spec.Items {
				out = append(out, item.Resource)
			}
			return out
		},
	} {
		if err := idx.IndexField(ctx, &opv1.DataGrant{}, name, func(o client.Object) []string { return values(o.(*opv1.DataGrant)) }); err != nil {
			return err
		}
	}
	return nil
}

// DomainFor returns the domain whose control namespace is namespace, or nil when none is.
func DomainFor(ctx context.Context, c client.Reader, namespace string) (*opv1.OperationDomain, error) {
	var list opv1.OperationDomainList
	if err := c.List(ctx, &list, client.MatchingFields{DomainControlNamespace: namespace}); err != nil {
		return nil, err
	}
	return only(list.Items, namespace)
}

// only is the one domain of domains, all claiming namespace as their control namespace.
func only(domains []opv1.OperationDomain, namespace string) (*opv1.OperationDomain, error) {
	switch len(domains) {
	case 0:
		return nil, nil
	case 1:
		return &domains[0], nil
	default:
		// Two domains claiming one namespace is a conflict nobody may resolve silently (R1).
		return nil, fmt.Errorf("%d OperationDomains claim control namespace %q", len(domains), namespace)
	}
}

// DomainByScan is DomainFor for a reader without the field index, such as the API server
// itself: it lists every domain, of which a cluster has few.
func DomainByScan(ctx context.Context, r client.Reader, namespace string) (*opv1.OperationDomain, error) {
	var all opv1.OperationDomainList
	if err := r.List(ctx, &all); err != nil {
		return nil, fmt.Errorf("reading OperationDomains: %w", err)
	}
	claiming := slices.DeleteFunc(all.Items, func(d opv1.OperationDomain) bool { return d.Spec.ControlNamespace != namespace })
	return only(claiming, namespace)
}

// Lookup reads one object; nil when it does not exist.
func Lookup[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, r client.Reader, namespace, name string) (PT, error) {
	obj := PT(new(T))
	switch err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return obj, nil
}

// Requests lists objects through r and returns a reconcile request for each: how a watch maps
// one object's change onto the objects that depend on it. A failed list maps to nothing; the
// next event or resync brings it back.
func Requests(ctx context.Context, r client.Reader, list client.ObjectList, opts ...client.ListOption) []reconcile.Request {
	if err := r.List(ctx, list, opts...); err != nil {
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, item := range items {
		if o, ok := item.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// ToOwner maps an object labelled as owned by an object of kind (opv1.LabelOwnerKind and the
// owner's name and namespace) onto a request for its owner: how a reconciler watches what it
// made.
func ToOwner(kind string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[opv1.LabelOwnerKind] != kind || l[opv1.LabelOwnerName] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[opv1.LabelOwnerNamespace], Name: l[opv1.LabelOwnerName]}}}
	})
}

// DomainChanges lets through every change of a domain but its own bookkeeping, which nothing
// under a domain reads: its records' anchor and its evidence chain's head move with every
// record and every TeardownRecord. Passed on, each would wake every agreement, workspace, grant,
// resource, import and product in the domain, at the moment a clock step or a teardown already
// has them all to do, and a grant would note it as the boundary its cut is counted from.
var DomainChanges = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	old, oldOK := e.ObjectOld.(*opv1.OperationDomain)
	updated, newOK := e.ObjectNew.(*opv1.OperationDomain)
	if !oldOK || !newOK {
		return true
	}
	was, is := old.Status, updated.Status
	was.Records, is.Records = opv1.RecordsStatus{}, opv1.RecordsStatus{}
	was.Evidence, is.Evidence = opv1.EvidenceStatus{}, opv1.EvidenceStatus{}
	return old.Generation != updated.Generation || !old.DeletionTimestamp.Equal(updated.DeletionTimestamp) || !equality.Semantic.DeepEqual(was, is)
}}
