package authorization

import (
	"cmp"
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/lifecycle"
)

// patchStatus is the one status write of a reconcile.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope, reconcileErr error) error {
	st := &s.agreement.Status
	return conditions.Write(ctx, r.Client, s.agreement, s.orig, &st.Conditions, &st.ObservedGeneration, s.summary, reconcileErr)
}

// deriveStatus writes what an evaluation says into the agreement's status, every field of it
// but the TeardownRecord and the summary conditions, and returns the summary: Ready while
// Active, Stalled on an unlawful term, which only a person can fix.
func deriveStatus(st *opv1.AuthorizationStatus, generation int64, out lifecycle.Outcome) conditions.Summary {
	st.Phase = out.Phase
	st.EndReason = out.EndReason
	st.EndedAt = timeOrNil(out.EndedAt)
	st.EndMessage = ""
	if out.Phase.Ended() {
		st.EndMessage = out.Message
	}
	st.NextTransition = timeOrNil(out.Next)
	st.SuspendedAt = timeOrNil(out.SuspendedAt)
	st.RectificationDeadline = timeOrNil(out.Deadline)
	if out.Warning != "" {
		conditions.Set(&st.Conditions, generation, opv1.ConditionEvaluationWarning, true, out.WarningReason, out.Warning)
	} else {
		conditions.Set(&st.Conditions, generation, opv1.ConditionEvaluationWarning, false, opv1.ReasonEvaluationPassed, "")
	}
	termExceeds := out.Reason == opv1.ReasonTermExceedsPolicy
	if termExceeds {
		conditions.Set(&st.Conditions, generation, opv1.ConditionTermValid, false, opv1.ReasonTermExceedsPolicy, out.Message)
	} else {
		conditions.Set(&st.Conditions, generation, opv1.ConditionTermValid, true, opv1.ReasonReconciled, "")
	}
	return conditions.Summary{
		Ready: out.Phase == opv1.PhaseActive, Reason: cmp.Or(out.Reason, opv1.ReasonReconciled), Message: out.Message,
		Stalled: termExceeds,
	}
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}
