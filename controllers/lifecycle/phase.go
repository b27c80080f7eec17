// Package lifecycle computes an agreement's phase (R2) as a pure function of its spec, its last
// status, its parent and the clock, and the next instant at which the answer may change.
package lifecycle

import (
	"fmt"
	"time"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Inputs is everything the phase depends on.
type Inputs struct {
	Spec     opv1.AuthorizationSpec
	Previous opv1.AuthorizationStatus
	// Parent is the Operator agreement a Developer agreement hangs under; nil when not found.
	Parent *opv1.Authorization
	// Policy is the domain's agreement policy; nil when the domain is not found.
	Policy *opv1.AgreementPolicy
	// Bar, when set, says why the party may not be given a new agreement (rules.Barred).
	Bar *rules.Violation
	Now time.Time
}

// Outcome is the phase and why.
type Outcome struct {
	Phase     opv1.AuthorizationPhase
	EndReason opv1.EndReason
	EndedAt   time.Time
	// SuspendedAt and Deadline are set while the agreement's own suspension runs: the deadline
	// is when it terminates the agreement unless lifted.
	SuspendedAt, Deadline time.Time
	// Warning is set while the latest evaluation failed.
	Warning string
	// Next is when the outcome may change by the clock alone; zero when never.
	Next time.Time
	// Reason and Message explain a phase other than Active.
	Reason, Message string
}

// Evaluate computes the phase. An ended agreement stays ended.
func Evaluate(in Inputs) Outcome {
	if in.Previous.Phase.Ended() {
		out := Outcome{Phase: in.Previous.Phase, EndReason: in.Previous.EndReason, Reason: string(in.Previous.EndReason)}
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
	if last, prev, ok := lastTwo(in.Spec.Evaluations); ok && last.Result == opv1.EvaluationFail && prev.Result == opv1.EvaluationFail {
		return ended(opv1.PhaseTerminated, opv1.EndEvaluationFailed, in.Now,
			fmt.Sprintf("evaluations %s and %s both failed (NJ 14)", prev.Period, last.Period))
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
	if v := rules.TermTooLong(in.Spec, *in.Policy); v != nil {
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
	if reason, note, ok := ownSuspension(in.Spec); ok {
		since := in.Now
		if in.Previous.SuspendedAt != nil {
			since = in.Previous.SuspendedAt.Time
		}
		deadline := since.AddDate(0, 0, int(in.Policy.RectificationDays))
		if !in.Now.Before(deadline) {
			return ended(opv1.PhaseTerminated, opv1.EndEvaluationFailed, deadline,
				"suspension not lifted by the rectification deadline "+deadline.UTC().Format(time.RFC3339))
		}
		return Outcome{Phase: opv1.PhaseSuspended, SuspendedAt: since, Deadline: deadline,
			Next: wakeup.Earliest(deadline, term.End.Time), Reason: string(reason), Message: note}
	}
	out := Outcome{Phase: opv1.PhaseActive, Next: term.End.Time}
	if n := len(in.Spec.Evaluations); n > 0 && in.Spec.Evaluations[n-1].Result == opv1.EvaluationFail {
		last := in.Spec.Evaluations[n-1]
		out.Warning = fmt.Sprintf("evaluation %s failed; another failure in a row terminates the agreement", last.Period)
	}
	return out
}

// everActive tells an agreement already in force, which a bar on new agreements leaves alone.
func everActive(p opv1.AuthorizationPhase) bool {
	return p == opv1.PhaseActive || p == opv1.PhaseSuspended
}

// ownSuspension says whether the agreement itself is suspended: by spec.suspension, or by a
// latest evaluation that asks for rectification.
func ownSuspension(spec opv1.AuthorizationSpec) (opv1.SuspensionReason, string, bool) {
	if s := spec.Suspension; s != nil {
		return s.Reason, s.Note, true
	}
	if n := len(spec.Evaluations); n > 0 && spec.Evaluations[n-1].Result == opv1.EvaluationRectify {
		e := spec.Evaluations[n-1]
		return opv1.SuspensionEvaluationRectification, fmt.Sprintf("evaluation %s asks for rectification: %s", e.Period, e.Note), true
	}
	return "", "", false
}

func lastTwo(evals []opv1.Evaluation) (last, prev opv1.Evaluation, ok bool) {
	if len(evals) < 2 {
		return last, prev, false
	}
	return evals[len(evals)-1], evals[len(evals)-2], true
}

func ended(phase opv1.AuthorizationPhase, reason opv1.EndReason, at time.Time, msg string) Outcome {
	return Outcome{Phase: phase, EndReason: reason, EndedAt: at, Reason: string(reason), Message: msg}
}
