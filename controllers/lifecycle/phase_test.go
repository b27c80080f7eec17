package lifecycle

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
)

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// policy is the default rulebook's (Jiangsu): an unremedied rectification terminates. The
	// tables' evaluations fall due after their terms, except in the cases about that.
	policy  = policyOf(opv1.OperationDomainSpec{}, rarely)
	jiangsu = policyOf(opv1.OperationDomainSpec{})
	yunnan  = policyOf(opv1.OperationDomainSpec{Rulebook: opv1.RulebookYunnan}, rarely)
	nanjing = policyOf(opv1.OperationDomainSpec{Rulebook: opv1.RulebookNanjing}, rarely)
	// suspending cuts access while a Rectify evaluation is remedied.
	suspending = policyOf(opv1.OperationDomainSpec{AgreementPolicy: opv1.AgreementPolicy{DuringRectification: opv1.RectificationSuspends}}, rarely)
)

// rarely evaluates every two years (only Custom may: a looser value than any rulebook's).
func rarely(s *opv1.OperationDomainSpec) {
	if s.Rulebook != "" {
		return // a rulebook of its own keeps its intervals; the cases using it end before they fall due
	}
	s.Rulebook = opv1.RulebookCustom
	s.AgreementPolicy.DeveloperEvaluationMonths, s.AgreementPolicy.OperatorEvaluationMonths = 24, 24
}

func policyOf(spec opv1.OperationDomainSpec, mutate ...func(*opv1.OperationDomainSpec)) *rulebook.Policy {
	for _, m := range mutate {
		m(&spec)
	}
	p := rulebook.Of(&spec)
	return &p
}

func developer(mutate ...func(*opv1.AuthorizationSpec)) opv1.AuthorizationSpec {
	s := opv1.AuthorizationSpec{
		Role: opv1.RoleDeveloper, Parent: "op",
		Term:  opv1.Term{Start: metav1.NewTime(t0), End: metav1.NewTime(t0.AddDate(1, 0, 0))},
		Scope: opv1.Scope{Resources: []string{"traffic-flow"}},
	}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

func suspended(s *opv1.AuthorizationSpec) { s.Suspension = &opv1.Suspension{Reason: "SecurityRisk"} }

func suspendedToRectify(s *opv1.AuthorizationSpec) {
	s.Suspension = &opv1.Suspension{Reason: opv1.SuspensionEvaluationRectification}
}

func evaluated(results ...opv1.EvaluationResult) func(*opv1.AuthorizationSpec) {
	return func(s *opv1.AuthorizationSpec) {
		for i, r := range results {
			s.Evaluations = append(s.Evaluations, opv1.Evaluation{Period: fmt.Sprintf("P%d", i+1), Result: r, Date: metav1.NewTime(t0)})
		}
	}
}

func parent(phase opv1.AuthorizationPhase) *opv1.Authorization {
	return &opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: "op"},
		Spec: opv1.AuthorizationSpec{Role: opv1.RoleOperator, Scope: opv1.Scope{Resources: []string{"traffic-flow"}},
			Term: opv1.Term{Start: metav1.NewTime(t0.AddDate(-1, 0, 0)), End: metav1.NewTime(t0.AddDate(5, 0, 0))}},
		Status: opv1.AuthorizationStatus{Phase: phase}}
}

func TestR2_PhaseFollowsTermSuspensionEvaluationsTerminationAndParent(t *testing.T) {
	end := t0.AddDate(1, 0, 0)
	for _, tc := range []struct {
		name      string
		in        Inputs
		phase     opv1.AuthorizationPhase
		endReason opv1.EndReason
		reason    string
		next      time.Time
		deadline  time.Time
		warning   bool
	}{
		{name: "before the term starts it is pending until the start",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.Add(-time.Hour)},
			phase: opv1.PhasePending, reason: string(opv1.PhasePending), next: t0},
		{name: "inside the term under an active parent it is active until the end",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhaseActive, next: end},
		{name: "at the end instant it has expired",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: end},
			phase: opv1.PhaseExpired, endReason: opv1.EndTermExpired, reason: string(opv1.EndTermExpired)},
		{name: "a termination ends it with its reason",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) { s.Termination = &opv1.Termination{Reason: opv1.EndBreach} }),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhaseTerminated, endReason: opv1.EndBreach, reason: string(opv1.EndBreach)},
		{name: "a suspension suspends it until the rectification deadline",
			in: Inputs{Spec: developer(suspended),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhaseSuspended, reason: "SecurityRisk", next: t0.AddDate(0, 0, 30), deadline: t0.AddDate(0, 0, 30)},
		{name: "a suspension keeps the deadline counted from when it began",
			in: Inputs{Spec: developer(suspended), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.AddDate(0, 0, 10),
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseSuspended, SuspendedAt: &metav1.Time{Time: t0}}},
			phase: opv1.PhaseSuspended, reason: "SecurityRisk", next: t0.AddDate(0, 0, 30), deadline: t0.AddDate(0, 0, 30)},
		{name: "a suspension still in force at its deadline terminates it, recorded as not rectified",
			in: Inputs{Spec: developer(suspended), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.AddDate(0, 0, 30),
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseSuspended, SuspendedAt: &metav1.Time{Time: t0}}},
			phase: opv1.PhaseTerminated, endReason: opv1.EndNotRectified, reason: string(opv1.EndNotRectified)},
		{name: "a suspension for an evaluation's rectification, unlifted, ends as a failed evaluation",
			in: Inputs{Spec: developer(suspendedToRectify), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.AddDate(0, 0, 30),
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseSuspended, SuspendedAt: &metav1.Time{Time: t0}}},
			phase: opv1.PhaseTerminated, endReason: opv1.EndEvaluationFailed, reason: string(opv1.EndEvaluationFailed)},
		{name: "under Yunnan an unlifted suspension stays until lifted, flagged",
			in: Inputs{Spec: developer(suspended), Parent: parent(opv1.PhaseActive), Policy: yunnan, Now: t0.AddDate(0, 0, 30),
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseSuspended, SuspendedAt: &metav1.Time{Time: t0}}},
			phase: opv1.PhaseSuspended, reason: "SecurityRisk", next: end, deadline: t0.AddDate(0, 0, 30), warning: true},
		{name: "a suspension whose deadline falls after the term wakes at the term's end",
			in:    Inputs{Spec: developer(suspended), Parent: parent(opv1.PhaseActive), Policy: policy, Now: end.AddDate(0, 0, -5)},
			phase: opv1.PhaseSuspended, reason: "SecurityRisk", next: end, deadline: end.AddDate(0, 0, 25)},
		{name: "an evaluation asking for rectification keeps access and sets the deadline from its date",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationPass, opv1.EvaluationRectify)), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.AddDate(0, 0, 3)},
			phase: opv1.PhaseActive, next: t0.AddDate(0, 0, 30), deadline: t0.AddDate(0, 0, 30), warning: true},
		{name: "where the domain suspends during rectification, a Rectify suspends it",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationPass, opv1.EvaluationRectify)), Parent: parent(opv1.PhaseActive), Policy: suspending, Now: t0},
			phase: opv1.PhaseSuspended, reason: string(opv1.SuspensionEvaluationRectification), next: t0.AddDate(0, 0, 30), deadline: t0.AddDate(0, 0, 30), warning: true},
		{name: "a rectification period passed with no new evaluation terminates it",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationRectify)), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0.AddDate(0, 0, 30)},
			phase: opv1.PhaseTerminated, endReason: opv1.EndEvaluationFailed, reason: string(opv1.EndEvaluationFailed)},
		{name: "under Yunnan a rectification period passed flags the re-evaluation overdue",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationRectify)), Parent: parent(opv1.PhaseActive), Policy: yunnan, Now: t0.AddDate(0, 0, 30)},
			phase: opv1.PhaseActive, next: end, deadline: t0.AddDate(0, 0, 30), warning: true},
		{name: "a pass after rectification restores it",
			in: Inputs{Spec: developer(evaluated(opv1.EvaluationRectify, opv1.EvaluationPass)), Parent: parent(opv1.PhaseActive), Policy: suspending, Now: t0,
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseSuspended, SuspendedAt: &metav1.Time{Time: t0}}},
			phase: opv1.PhaseActive, next: end},
		{name: "one failed evaluation warns",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationPass, opv1.EvaluationFail)), Parent: parent(opv1.PhaseActive), Policy: nanjing, Now: t0},
			phase: opv1.PhaseActive, next: end, warning: true},
		{name: "under Nanjing two failed evaluations in a row terminate it",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationFail, opv1.EvaluationFail)), Parent: parent(opv1.PhaseActive), Policy: nanjing, Now: t0},
			phase: opv1.PhaseTerminated, endReason: opv1.EndEvaluationFailed, reason: string(opv1.EndEvaluationFailed)},
		{name: "elsewhere failed evaluations only warn",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationFail, opv1.EvaluationFail, opv1.EvaluationFail)), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhaseActive, next: end, warning: true},
		{name: "two failures with a pass between only warn",
			in:    Inputs{Spec: developer(evaluated(opv1.EvaluationFail, opv1.EvaluationPass, opv1.EvaluationFail)), Parent: parent(opv1.PhaseActive), Policy: nanjing, Now: t0},
			phase: opv1.PhaseActive, next: end, warning: true},
		{name: "a developer's next evaluation is due six months after the term's start: it wakes then",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: jiangsu, Now: t0},
			phase: opv1.PhaseActive, next: t0.AddDate(0, 6, 0)},
		{name: "an evaluation overdue warns",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: jiangsu, Now: t0.AddDate(0, 6, 0)},
			phase: opv1.PhaseActive, next: end, warning: true},
		{name: "an evaluation passed sets the next due date from its date",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) {
				s.Evaluations = []opv1.Evaluation{{Period: "H1", Result: opv1.EvaluationPass, Date: metav1.NewTime(t0.AddDate(0, 5, 0))}}
			}), Parent: parent(opv1.PhaseActive), Policy: jiangsu, Now: t0.AddDate(0, 6, 0)},
			phase: opv1.PhaseActive, next: t0.AddDate(0, 11, 0)},
		{name: "a parent that ended ends it",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseTerminated), Policy: policy, Now: t0},
			phase: opv1.PhaseTerminated, endReason: opv1.EndParentEnded, reason: string(opv1.EndParentEnded)},
		{name: "a suspended parent suspends it",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseSuspended), Policy: policy, Now: t0},
			phase: opv1.PhaseSuspended, reason: opv1.ReasonParentInactive, next: end},
		{name: "a missing parent keeps it pending",
			in:    Inputs{Spec: developer(), Policy: policy, Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonParentNotFound, next: end},
		{name: "a parent that is not an Operator agreement keeps it pending",
			in: Inputs{Spec: developer(), Parent: &opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: "op"},
				Spec: opv1.AuthorizationSpec{Role: opv1.RoleDeveloper}, Status: opv1.AuthorizationStatus{Phase: opv1.PhaseActive}},
				Policy: policy, Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonParentNotFound, next: end},
		{name: "no domain keeps it pending",
			in:    Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonDomainNotFound, next: end},
		{name: "a term one day past three calendar years never activates",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) { s.Term.End = metav1.NewTime(t0.AddDate(3, 0, 1)) }),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonTermExceedsPolicy, next: t0.AddDate(3, 0, 1)},
		{name: "a term of exactly three calendar years is lawful (it next wakes when its evaluation falls due)",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) { s.Term.End = metav1.NewTime(t0.AddDate(3, 0, 0)) }),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhaseActive, next: t0.AddDate(2, 0, 0)},
		{name: "a barred party's new agreement never activates",
			in: Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0,
				Bar: &rules.Violation{Field: field.NewPath("spec", "party"), Reason: opv1.ReasonPartyBlacklisted, Message: "blacklisted"}},
			phase: opv1.PhasePending, reason: opv1.ReasonPartyBlacklisted, next: end},
		{name: "a bar leaves an agreement already in force alone",
			in: Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0,
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseActive}, Bar: &rules.Violation{Field: field.NewPath("spec", "party"), Reason: opv1.ReasonRoleConflict}},
			phase: opv1.PhaseActive, next: end},
		{name: "a term beyond the parent's never activates",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) { s.Term.Start = metav1.NewTime(t0.AddDate(-1, 0, -1)) }),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonExceedsParent, next: end},
		{name: "a resource outside the parent's scope never activates",
			in: Inputs{Spec: developer(func(s *opv1.AuthorizationSpec) { s.Scope.Resources = []string{"traffic-flow", "hospital-visits"} }),
				Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0},
			phase: opv1.PhasePending, reason: opv1.ReasonExceedsParent, next: end},
		{name: "ended is final, even when the termination would now say otherwise",
			in: Inputs{Spec: developer(), Parent: parent(opv1.PhaseActive), Policy: policy, Now: t0,
				Previous: opv1.AuthorizationStatus{Phase: opv1.PhaseTerminated, EndReason: opv1.EndLawViolation}},
			phase: opv1.PhaseTerminated, endReason: opv1.EndLawViolation, reason: string(opv1.EndLawViolation)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			out := Evaluate(tc.in)
			g.Expect(out.Phase).To(Equal(tc.phase))
			g.Expect(out.EndReason).To(Equal(tc.endReason))
			g.Expect(out.Reason).To(Equal(tc.reason))
			g.Expect(out.Next).To(Equal(tc.next))
			g.Expect(out.Deadline).To(Equal(tc.deadline))
			g.Expect(out.Warning != "").To(Equal(tc.warning), out.Warning)
			if tc.phase.Ended() {
				g.Expect(out.Next.IsZero()).To(BeTrue(), "an ended agreement has no next boundary")
			}
		})
	}
}
