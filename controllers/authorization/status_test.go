package authorization

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/lifecycle"
)

// R2: an agreement's status says what its evaluation found, each field in one place: the phase,
// when and why it ended (the message only once ended), the next boundary, the suspension and
// rectification deadline, the evaluation warning and whether the term is lawful; the summary is
// Ready only while Active, and Stalled only on an unlawful term.
func TestR2_AnAgreementsStatusIsDerivedFromItsEvaluation(t *testing.T) {
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name            string
		out             lifecycle.Outcome
		ready, stalled  bool
		endMessage      string
		warning, termOK metav1.ConditionStatus
	}{
		{name: "active", out: lifecycle.Outcome{Phase: opv1.PhaseActive, Next: at},
			ready: true, warning: metav1.ConditionFalse, termOK: metav1.ConditionTrue},
		{name: "suspended for rectification", out: lifecycle.Outcome{Phase: opv1.PhaseSuspended, SuspendedAt: at, Deadline: at.AddDate(0, 0, 30),
			Warning: "rectify by then", WarningReason: opv1.ReasonRectificationDue, Reason: "Suspended", Message: "suspended"},
			warning: metav1.ConditionTrue, termOK: metav1.ConditionTrue},
		{name: "terminated", out: lifecycle.Outcome{Phase: opv1.PhaseTerminated, EndReason: opv1.EndBreach, EndedAt: at, Reason: string(opv1.EndBreach), Message: "terminated: Breach"},
			endMessage: "terminated: Breach", warning: metav1.ConditionFalse, termOK: metav1.ConditionTrue},
		{name: "term longer than the rulebook allows", out: lifecycle.Outcome{Phase: opv1.PhasePending, Reason: opv1.ReasonTermExceedsPolicy, Message: "at most 3 years"},
			stalled: true, warning: metav1.ConditionFalse, termOK: metav1.ConditionFalse},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			st := opv1.AuthorizationStatus{EndMessage: "stale", NextTransition: &metav1.Time{Time: at.Add(-time.Hour)}}
			summary := deriveStatus(&st, 3, c.out)
			g.Expect(st.Phase).To(Equal(c.out.Phase))
			g.Expect(st.EndReason).To(Equal(c.out.EndReason))
			g.Expect(st.EndMessage).To(Equal(c.endMessage))
			for field, want := range map[string]time.Time{"endedAt": c.out.EndedAt, "nextTransition": c.out.Next, "suspendedAt": c.out.SuspendedAt, "rectificationDeadline": c.out.Deadline} {
				got := map[string]*metav1.Time{"endedAt": st.EndedAt, "nextTransition": st.NextTransition, "suspendedAt": st.SuspendedAt, "rectificationDeadline": st.RectificationDeadline}[field]
				if want.IsZero() {
					g.Expect(got).To(BeNil(), field)
				} else {
					g.Expect(got).NotTo(BeNil(), field)
					g.Expect(got.Time).To(Equal(want), field)
				}
			}
			g.Expect(meta.FindStatusCondition(st.Conditions, opv1.ConditionEvaluationWarning)).To(HaveField("Status", c.warning))
			g.Expect(meta.FindStatusCondition(st.Conditions, opv1.ConditionTermValid)).To(And(HaveField("Status", c.termOK), HaveField("ObservedGeneration", int64(3))))
			g.Expect(summary.Ready).To(Equal(c.ready))
			g.Expect(summary.Stalled).To(Equal(c.stalled))
			g.Expect(summary.Reason).NotTo(BeEmpty())
		})
	}
}
