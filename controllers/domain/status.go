package domain

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
)

// patchStatus is the one status write of a reconcile: it summarises the conditions the way
// kstatus reads them and records the generation only when the reconcile succeeded.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	d := s.domain
	sum := s.summary
	if reconcileErr != nil && !sum.Stalled {
		sum = conditions.Summary{Reason: opv1.ReasonApplyFailed, Message: reconcileErr.Error(), Progressing: true}
	}
	conditions.Apply(&d.Status.Conditions, d.Generation, sum)
	if reconcileErr == nil && sum.Ready {
		d.Status.ObservedGeneration = d.Generation
	}
	return r.Status().Patch(ctx, d, client.MergeFrom(s.orig))
}

// saveStatus writes the status now rather than at the end of the reconcile, for a step that
// must be on record before it acts. It patches a copy, so the scope's object stays as it is.
func (r *Reconciler) saveStatus(ctx context.Context, s *scope) error {
	if err := r.Status().Patch(ctx, s.domain.DeepCopy(), client.MergeFrom(s.orig)); err != nil {
		return err
	}
	s.orig = s.domain.DeepCopy()
	return nil
}
