package grant

import (
	"context"
	"slices"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
)

// patchStatus is the one status write of a reconcile.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	st := &s.grant.Status
	return conditions.Write(ctx, r.Client, s.grant, s.orig, &st.Conditions, &st.ObservedGeneration, s.summary, reconcileErr)
}

// waiting are the reasons a Pending grant waits for something that comes by itself or by the
// process (a review, its term, its agreement, the path being built, the data's owner): any
// other reason is a rule it breaks before it ever opened, which waits for a person to fix it.
var waiting = []string{opv1.ReasonAwaitingReview, opv1.ReasonNotInTerm, opv1.ReasonAuthorizationInactive, opv1.ReasonProgressing, opv1.ReasonRawData}

// summaryOf is the grant's summary: Ready while Active, Stalled while Pending on a broken rule.
func summaryOf(out Outcome) conditions.Summary {
	return conditions.Summary{
		Ready: out.Phase == opv1.GrantActive, Reason: out.Reason, Message: out.Message,
		Stalled: out.Phase == opv1.GrantPending && !slices.Contains(waiting, out.Reason),
	}
}
