package grant

import (
	"testing"

	. "github.com/onsi/gomega"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// R3: a grant's summary is Ready only while Active; a Pending grant is Stalled when it breaks a
// rule only a person can fix, never while it waits for what comes by itself (a review, its
// term, its agreement, the path, the data's owner); an ended grant is neither.
func TestR3_AGrantsSummaryFollowsItsPhaseAndWhyItWaits(t *testing.T) {
	for _, c := range []struct {
		out            Outcome
		ready, stalled bool
	}{
		{Outcome{Phase: opv1.GrantActive, Reason: opv1.ReasonReconciled}, true, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonAwaitingReview}, false, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonNotInTerm}, false, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonAuthorizationInactive}, false, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonProgressing}, false, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonRawData}, false, false},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonOutsideScope, Message: "not in the agreement's scope"}, false, true},
		{Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonReviewNotIndependent}, false, true},
		{Outcome{Phase: opv1.GrantRevoked, Reason: opv1.ReasonAuthorizationInactive}, false, false},
	} {
		s := summaryOf(c.out)
		NewWithT(t).Expect([]any{s.Ready, s.Stalled, s.Reason, s.Message}).To(Equal([]any{c.ready, c.stalled, c.out.Reason, c.out.Message}), "%+v", c.out)
	}
}
