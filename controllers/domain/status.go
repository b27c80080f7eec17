package domain

import (
	"context"

	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
)

// patchStatus is the one status write of a reconcile.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	d := s.domain
	conditions.Finish(&d.Status.Conditions, &d.Status.ObservedGeneration, d.Generation, s.summary, reconcileErr)
	return apply.Status(ctx, r.Client, d, s.orig)
}

// saveStatus writes the status now, for a step that must be on record before it acts.
func (r *Reconciler) saveStatus(ctx context.Context, s *scope) (err error) {
	s.orig, err = apply.StatusNow(ctx, r.Client, s.domain, s.orig)
	return err
}
