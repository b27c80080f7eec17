package grant

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/rules"
)

// ReadWorld reads what a grant's rules and phase depend on, through r: the API server for the
// webhook, the cache for the reconciler.
func ReadWorld(ctx context.Context, r client.Reader, g *opv1.DataGrant) (rules.GrantWorld, error) {
	var w rules.GrantWorld
	var err error
	if w.Domain, err = index.DomainByScan(ctx, r, g.Namespace); err != nil {
		return w, err
	}
	if w.Agreement, err = index.Lookup[opv1.Authorization](ctx, r, g.Namespace, g.Spec.Authorization); err != nil {
		return w, err
	}
	if w.Workspace, err = index.Lookup[opv1.DeveloperWorkspace](ctx, r, g.Namespace, g.Spec.Workspace); err != nil {
		return w, err
	}
	w.Resources = map[string]*opv1.DataResource{}
	for _, item := range g.Spec.Items {
		res, err := index.Lookup[opv1.DataResource](ctx, r, g.Namespace, item.Resource)
		if err != nil {
			return w, err
		}
		if res != nil {
			w.Resources[item.Resource] = res
		}
	}
	if w.Agreement != nil {
		var agreements opv1.AuthorizationList
		if err := r.List(ctx, &agreements, client.InNamespace(g.Namespace)); err != nil {
			return w, err
		}
		w.PartyPersons = rules.PartyPersons(w.Agreement.Spec.Party.CreditCode, agreements.Items)
	}
	return w, nil
}
