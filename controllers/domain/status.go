package domain

import (
	"context"

	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
)

// patchStatus is the one status write of a reconcile.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	st := &s.domain.Status
	return conditions.Write(ctx, r.Client, s.domain, s.orig, &st.Conditions, &st.ObservedGeneration, s.summary, reconcileErr)
}

// saveStatus writes the status now, for a step that must be on record before it acts.
func (r *Reconciler) saveStatus(ctx context.Context, s *scope) (err error) {
	s.orig, err = apply.StatusNow(ctx, r.Client, s.domain, s.orig)
	return err
}
