package lifecycle

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
)

// R2, fuzzed: whatever the term, suspension, termination, parent, evaluations, policy and
// previous phase, an agreement is Active only while nothing stops it (fail closed), an ended
// agreement stays ended, and the next wake-up is never now or past (which would spin).
func FuzzR2_AnAgreementIsActiveOnlyWhenNothingStopsIt(f *testing.F) {
	f.Add(int16(-24), int16(24), uint8(0), uint8(0), uint8(0), uint8(0), uint8(1), int16(0))
	f.Add(int16(-24), int16(24), uint8(1), uint8(0), uint8(1), uint8(0), uint8(2), int16(-720))
	f.Add(int16(-100), int16(900), uint8(0x2c), uint8(2), uint8(2), uint8(3), uint8(4), int16(-2000))
	f.Add(int16(10), int16(-10), uint8(0), uint8(1), uint8(0), uint8(3), uint8(1), int16(5))
	phases := []opv1.AuthorizationPhase{"", opv1.PhasePending, opv1.PhaseActive, opv1.PhaseSuspended, opv1.PhaseExpired, opv1.PhaseTerminated}
	results := []opv1.EvaluationResult{opv1.EvaluationPass, opv1.EvaluationFail, opv1.EvaluationRectify}
	policies := []*rulebook.Policy{nil, jiangsu, yunnan, nanjing, suspending}
	f.Fuzz(func(t *testing.T, startHours, endHours int16, flags, parentPhase, previousPhase, evaluations, policy uint8, evalHours int16) {
		now := t0.Add(400 * 24 * time.Hour)
		spec := opv1.AuthorizationSpec{
			Role: opv1.RoleOperator,
			Term: opv1.Term{Start: metav1.NewTime(now.Add(time.Duration(startHours) * time.Hour)), End: metav1.NewTime(now.Add(time.Duration(endHours) * time.Hour))},
		}
		if flags&1 != 0 {
			spec.Suspension = &opv1.Suspension{Reason: opv1.SuspensionRegulatorOrder}
		}
		if flags&2 != 0 {
			spec.Termination = &opv1.Termination{Reason: opv1.EndBreach}
		}
		var parent *opv1.Authorization
		if flags&4 != 0 {
			spec.Role, spec.Parent = opv1.RoleDeveloper, "operator"
			if flags&8 != 0 {
				parent = &opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: "operator"}, Spec: opv1.AuthorizationSpec{Role: opv1.RoleOperator, Term: spec.Term},
					Status: opv1.AuthorizationStatus{Phase: phases[int(parentPhase)%len(phases)]}}
			}
		}
		for i := range int(evaluations % 4) {
			spec.Evaluations = append(spec.Evaluations, opv1.Evaluation{Period: string(rune('a' + i)), Result: results[(int(flags>>4)+i)%len(results)],
				Date: metav1.NewTime(now.Add(time.Duration(evalHours)*time.Hour + time.Duration(i)*time.Hour))})
		}
		previous := phases[int(previousPhase)%len(phases)]
		out := Evaluate(Inputs{Spec: spec, Previous: opv1.AuthorizationStatus{Phase: previous}, Parent: parent,
			Policy: policies[int(policy)%len(policies)], Now: now})

		if previous.Ended() && out.Phase != previous {
			t.Fatalf("an ended agreement came back: %s -> %s", previous, out.Phase)
		}
		if out.Phase == opv1.PhaseActive {
			switch {
			case previous.Ended(), spec.Suspension != nil, spec.Termination != nil:
				t.Fatalf("Active though ended, suspended or terminated: %+v", out)
			case now.Before(spec.Term.Start.Time), !now.Before(spec.Term.End.Time):
				t.Fatalf("Active outside its term: %+v", out)
			case policies[int(policy)%len(policies)] == nil:
				t.Fatalf("Active without a domain: %+v", out)
			case spec.Role == opv1.RoleDeveloper && (parent == nil || parent.Status.Phase != opv1.PhaseActive):
				t.Fatalf("Active under a parent that is not: %+v", out)
			}
		}
		if !out.Next.IsZero() && !out.Next.After(now) {
			t.Fatalf("next wake-up %s is not after now %s: %+v", out.Next, now, out)
		}
	})
}
