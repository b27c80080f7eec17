// Package index registers the field indexes the controllers look objects up by.
package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Index field names.
const (
	DomainControlNamespace = "spec.controlNamespace"
	WorkspaceAuthorization = "spec.authorization"
	AuthorizationParent    = "spec.parent"
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
	return idx.IndexField(ctx, &opv1.Authorization{}, AuthorizationParent, func(o client.Object) []string {
		if p := o.(*opv1.Authorization).Spec.Parent; p != "" {
			return []string{p}
		}
		return nil
	})
}

// DomainFor returns the domain whose control namespace is namespace, or nil when none is.
func DomainFor(ctx context.Context, c client.Reader, namespace string) (*opv1.OperationDomain, error) {
	var list opv1.OperationDomainList
	if err := c.List(ctx, &list, client.MatchingFields{DomainControlNamespace: namespace}); err != nil {
		return nil, err
	}
	switch len(list.Items) {
	case 0:
		return nil, nil
	case 1:
		return &list.Items[0], nil
	default:
		// Two domains claiming one namespace is a conflict nobody may resolve silently (R1).
		return nil, fmt.Errorf("%d OperationDomains claim control namespace %q", len(list.Items), namespace)
	}
}
