package workspace

import (
	"context"

	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
)

// patchStatus is the one status write of a reconcile.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	st := &s.ws.Status
	return conditions.Write(ctx, r.Client, s.ws, s.orig, &st.Conditions, &st.ObservedGeneration, s.summary, reconcileErr)
}

// saveProgress writes the status now rather than at the end of the reconcile, so a teardown
// step is on record before it acts.
func (r *Reconciler) saveProgress(ctx context.Context, s *scope) (err error) {
	s.orig, err = apply.StatusNow(ctx, r.Client, s.ws, s.orig)
	return err
}
