// Package lifecycle computes an agreement's phase (R2) as a pure function of its spec, its last
// status, its parent and the clock, and the next instant at which the answer may change.
package lifecycle

import (
	"fmt"
	"strings"
	"time"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Inputs is everything the phase depends on.
type Inputs struct {
	Spec     opv1.AuthorizationSpec
	Previous opv1.AuthorizationStatus
	// Parent is the Operator agreement a Developer agreement hangs under; nil when not found.
	Parent *opv1.Authorization
	// Policy is the domain's policy in force; nil when the domain is not found.
	Policy *rulebook.Policy
	// Bar, when set, says why the party may not be given a new agreement (rules.Barred).
	Bar *rules.Violation
	Now time.Time
}

// Outcome is the phase and why.
type Outcome struct {
	Phase     opv1.AuthorizationPhase
	EndReason opv1.EndReason
	EndedAt   time.Time
	// SuspendedAt is set while the agreement's own suspension runs.
	SuspendedAt time.Time
	// Deadline is when the current rectification period ends.
	Deadline time.Time
	// Warning and WarningReason are set while the latest evaluation failed, or a rectification
	// is due or its re-evaluation overdue.
	Warning, WarningReason string
	// Next is when the outcome may change by the clock alone; zero when never.
	Next time.Time
	// Reason and Message explain a phase other than Active.
	Reason, Message string
}

// Evaluate computes the phase. An ended agreement stays ended.
func Evaluate(in Inputs) Outcome {
	if in.Previous.Phase.Ended() {
		out := Outcome{Phase: in.Previous.Phase, EndReason: in.Previous.EndReason, Reason: string(in.Previous.EndReason),
			Message: in.Previous.EndMessage}
		if in.Previous.EndedAt != nil {
			out.EndedAt = in.Previous.EndedAt.Time
		}
		return out
	}
	term := in.Spec.Term
	if t := in.Spec.Termination; t != nil {
		return ended(opv1.PhaseTerminated, t.Reason, in.Now, "terminated: "+string(t.Reason))
	}
	if !in.Now.Before(term.End.Time) {
		return ended(opv1.PhaseExpired, opv1.EndTermExpired, term.End.Time, "term ended at "+term.End.UTC().Format(time.RFC3339))
	}
	if in.Spec.Role == opv1.RoleDeveloper && in.Parent != nil && in.Parent.Status.Phase.Ended() {
		return ended(opv1.PhaseTerminated, opv1.EndParentEnded, in.Now, fmt.Sprintf("parent agreement %s ended", in.Parent.Name))
	}
	// From here on the term's end is the next boundary.
	if in.Now.Before(term.Start.Time) {
		return Outcome{Phase: opv1.PhasePending, Next: term.Start.Time, Reason: string(opv1.PhasePending),
			Message: "term starts at " + term.Start.UTC().Format(time.RFC3339)}
	}
	pending := func(reason, msg string) Outcome {
		return Outcome{Phase: opv1.PhasePending, Next: term.End.Time, Reason: reason, Message: msg}
	}
	if in.Policy == nil {
		return pending(opv1.ReasonDomainNotFound, "no OperationDomain has this namespace as its control namespace")
	}
	p := *in.Policy
	if failed := failedInARow(in.Spec.Evaluations); p.FailedEvaluationsToEnd > 0 && len(failed) >= int(p.FailedEvaluationsToEnd) {
		return ended(opv1.PhaseTerminated, opv1.EndEvaluationFailed, in.Now, fmt.Sprintf("evaluations %s failed in a row (%s)",
			strings.Join(failed[len(failed)-int(p.FailedEvaluationsToEnd):], ", "), p.Source("agreementPolicy.failedEvaluationsToEnd")))
	}
	if v := rules.TermTooLong(in.Spec, p); v != nil {
		return pending(v.Reason, v.String())
	}
	if in.Bar != nil && !everActive(in.Previous.Phase) {
		return pending(in.Bar.Reason, in.Bar.String())
	}
	if in.Spec.Role == opv1.RoleDeveloper {
		if v := rules.Parent(in.Spec, in.Parent); v != nil {
			return pending(v.Reason, v.String())
		}
		switch in.Parent.Status.Phase {
		case opv1.PhaseActive:
		case opv1.PhaseSuspended:
			return Outcome{Phase: opv1.PhaseSuspended, Next: term.End.Time, Reason: opv1.ReasonParentInactive,
				Message: fmt.Sprintf("parent agreement %s is suspended", in.Parent.Name)}
		default:
			return pending(opv1.ReasonParentInactive, fmt.Sprintf("parent agreement %s is not active", in.Parent.Name))
		}
	}
	if s := in.Spec.Suspension; s != nil {
		return suspension(in, p, *s)
	}
	if e, ok := rectifying(in.Spec.Evaluations); ok {
		return rectification(in, p, e)
	}
	out := Outcome{Phase: opv1.PhaseActive, Next: term.End.Time}
	if failed := failedInARow(in.Spec.Evaluations); len(failed) > 0 {
		out.Warning, out.WarningReason = fmt.Sprintf("evaluation %s failed", failed[len(failed)-1]), opv1.ReasonEvaluationFailed
		if n := int(p.FailedEvaluationsToEnd); n > 0 {
			out.Warning += fmt.Sprintf("; %d more in a row terminate the agreement", n-len(failed))
		}
		return out
	}
	due, setting := nextEvaluation(in.Spec, p)
	if in.Now.Before(due) {
		out.Next = wakeup.Earliest(due, term.End.Time)
	} else {
		out.Warning, out.WarningReason = fmt.Sprintf("an evaluation was due by %s (%s: %s)",
			due.UTC().Format(time.RFC3339), setting, p.Source(setting)), opv1.ReasonEvaluationOverdue
	}
	return out
}

// nextEvaluation is when the next periodic evaluation is due: the domain's interval for the
// role after the latest evaluation, or after the term's start; and the setting that says so.
func nextEvaluation(spec opv1.AuthorizationSpec, p rulebook.Policy) (time.Time, string) {
	months, setting := p.DeveloperEvaluationMonths, "agreementPolicy.developerEvaluationMonths"
	if spec.Role == opv1.RoleOperator {
		months, setting = p.OperatorEvaluationMonths, "agreementPolicy.operatorEvaluationMonths"
	}
	since := spec.Term.Start.Time
	if n := len(spec.Evaluations); n > 0 {
		since = spec.Evaluations[n-1].Date.Time
	}
	return since.AddDate(0, int(months), 0), setting
}

// suspension is the agreement's own suspension: access is cut until it is lifted; unlifted at
// its deadline it terminates the agreement, recorded as what it was, where the domain's policy
// says so, and otherwise stays until lifted.
func suspension(in Inputs, p rulebook.Policy, s opv1.Suspension) Outcome {
	since := in.Now
	if in.Previous.SuspendedAt != nil {
		since = in.Previous.SuspendedAt.Time
	}
	deadline := since.AddDate(0, 0, int(p.RectificationDays))
	out := Outcome{Phase: opv1.PhaseSuspended, SuspendedAt: since, Deadline: deadline, Reason: string(s.Reason), Message: s.Note}
	if in.Now.Before(deadline) {
		out.Next = wakeup.Earliest(deadline, in.Spec.Term.End.Time)
		return out
	}
	if p.WhenUnremedied == opv1.UnremediedTerminate {
		reason := opv1.EndNotRectified
		if s.Reason == opv1.SuspensionEvaluationRectification {
			reason = opv1.EndEvaluationFailed
		}
		return ended(opv1.PhaseTerminated, reason, deadline, fmt.Sprintf("suspension (%s) not lifted by the rectification deadline %s (%s)",
			s.Reason, deadline.UTC().Format(time.RFC3339), p.Source("agreementPolicy.whenUnremedied")))
	}
	out.Next = in.Spec.Term.End.Time
	out.Warning, out.WarningReason = fmt.Sprintf("suspension (%s) not lifted by the rectification deadline %s: awaiting the authority",
		s.Reason, deadline.UTC().Format(time.RFC3339)), opv1.ReasonReevaluationOverdue
	return out
}

// rectification is a latest evaluation that asks for rectification: the party has the
// domain's rectificationDays from its date, then a new evaluation is due (YN art. 26). Whether
// access is cut meanwhile and whether an unremedied period terminates are the domain's policy.
func rectification(in Inputs, p rulebook.Policy, e opv1.Evaluation) Outcome {
	deadline := e.Date.AddDate(0, 0, int(p.RectificationDays))
	out := Outcome{Phase: opv1.PhaseActive, Deadline: deadline, WarningReason: opv1.ReasonRectificationDue,
		Warning: fmt.Sprintf("evaluation %s asks for rectification by %s, then a new evaluation", e.Period, deadline.UTC().Format(time.RFC3339))}
	if !in.Now.Before(deadline) {
		if p.WhenUnremedied == opv1.UnremediedTerminate {
			return ended(opv1.PhaseTerminated, opv1.EndEvaluationFailed, deadline, fmt.Sprintf("evaluation %s asked for rectification by %s and no evaluation followed (%s)",
				e.Period, deadline.UTC().Format(time.RFC3339), p.Source("agreementPolicy.whenUnremedied")))
		}
		out.WarningReason = opv1.ReasonReevaluationOverdue
		out.Warning = fmt.Sprintf("evaluation %s asked for rectification by %s: the new evaluation is overdue", e.Period, deadline.UTC().Format(time.RFC3339))
		out.Next = in.Spec.Term.End.Time
	} else {
		out.Next = wakeup.Earliest(deadline, in.Spec.Term.End.Time)
	}
	if p.DuringRectification == opv1.RectificationSuspends {
		since := in.Now
		if in.Previous.SuspendedAt != nil {
			since = in.Previous.SuspendedAt.Time
		}
		out.Phase, out.SuspendedAt = opv1.PhaseSuspended, since
		out.Reason, out.Message = string(opv1.SuspensionEvaluationRectification), out.Warning
	}
	return out
}

// everActive tells an agreement already in force, which a bar on new agreements leaves alone.
func everActive(p opv1.AuthorizationPhase) bool {
	return p == opv1.PhaseActive || p == opv1.PhaseSuspended
}

// rectifying returns the latest evaluation when it asks for rectification.
func rectifying(evals []opv1.Evaluation) (opv1.Evaluation, bool) {
	if n := len(evals); n > 0 && evals[n-1].Result == opv1.EvaluationRectify {
		return evals[n-1], true
	}
	return opv1.Evaluation{}, false
}

// failedInARow names the periods of the latest evaluations that failed in a row, oldest first.
func failedInARow(evals []opv1.Evaluation) []string {
	var periods []string
	for i := len(evals) - 1; i >= 0 && evals[i].Result == opv1.EvaluationFail; i-- {
		periods = append([]string{evals[i].Period}, periods...)
	}
	return periods
}

func ended(phase opv1.AuthorizationPhase, reason opv1.EndReason, at time.Time, msg string) Outcome {
	return Outcome{Phase: phase, EndReason: reason, EndedAt: at, Reason: string(reason), Message: msg}
}
