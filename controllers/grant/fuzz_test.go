package grant

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rules"
)

// R4, fuzzed: whatever the review, term, agreement, workspace, catalog, domain and previous
// phase, a grant is Active only while every rule allows it (fail closed), an ended grant stays
// ended, and the next wake-up is never now or past (which would spin).
func FuzzR4_AGrantIsActiveOnlyWhenEverythingAllowsIt(f *testing.F) {
	f.Add(int16(-1), int16(24), uint16(0), uint8(1), uint8(1), uint8(0)) // open
	f.Add(int16(-1), int16(24), uint16(0x400), uint8(1), uint8(1), uint8(2))
	f.Add(int16(-1), int16(24), uint16(0x1ff), uint8(2), uint8(3), uint8(2))
	f.Add(int16(5), int16(-5), uint16(0x40), uint8(0), uint8(1), uint8(4))
	f.Add(int16(-30), int16(1), uint16(0x2a5), uint8(3), uint8(4), uint8(1))
	reviews := []*opv1.Review{nil, {Reviewer: "wang", Decision: opv1.ReviewApproved}, {Reviewer: "wang", Decision: opv1.ReviewRejected}, {Reviewer: "li", Decision: opv1.ReviewApproved}}
	agreementPhases := []opv1.AuthorizationPhase{opv1.PhasePending, opv1.PhaseActive, opv1.PhaseSuspended, opv1.PhaseExpired, opv1.PhaseTerminated}
	grantPhases := []opv1.GrantPhase{"", opv1.GrantPending, opv1.GrantActive, opv1.GrantSuspended, opv1.GrantRevoked, opv1.GrantExpired}
	f.Fuzz(func(t *testing.T, startHours, endHours int16, flags uint16, review, agreementPhase, previous uint8) {
		now := t0.Add(24 * time.Hour)
		w := world()
		g := approved(grantPhases[int(previous)%len(grantPhases)])
		g.Spec.Term = opv1.Term{Start: metav1.NewTime(now.Add(time.Duration(startHours) * time.Hour)), End: metav1.NewTime(now.Add(time.Duration(endHours) * time.Hour))}
		g.Spec.Review = reviews[int(review)%len(reviews)]
		w.Agreement.Status.Phase = agreementPhases[int(agreementPhase)%len(agreementPhases)]
		bit := func(i uint) bool { return flags&(1<<i) != 0 }
		if bit(0) {
			g.Spec.Items[0].Form = opv1.FormSample
		}
		if bit(1) {
			g.Spec.Items[0].Fields = []string{"plate_number"} // not a field of the resource
		}
		if bit(2) {
			w.Resources["traffic"].Status.Offerable = false
		}
		if bit(3) {
			w.Domain.Spec.EmergencyStop = opv1.EmergencyStop{Active: true, Reason: "drill"}
		}
		if bit(4) {
			w.Domain.Status.DNS.Contained = false
		}
		if bit(5) {
			w.Workspace.Status.Conditions = nil // not sealed
		}
		if bit(6) {
			w.Workspace.Status.Namespace = ""
		}
		if bit(7) {
			w.Workspace.Status.Teardown = &opv1.TeardownProgress{}
		}
		if bit(8) {
			w.Domain.Spec.NetworkPolicy = opv1.NetworkPolicyCilium
		}
		if bit(9) {
			g.Spec.RequestedBy = "wang" // the reviewer reviewed their own request
		}
		prev := g.Status.Phase
		out := Evaluate(Inputs{Grant: g, World: w, Now: now, CiliumServed: bit(10)})

		if prev.Ended() && out.Phase != prev {
			t.Fatalf("an ended grant came back: %s -> %s", prev, out.Phase)
		}
		if !out.Next.IsZero() && !out.Next.After(now) {
			t.Fatalf("next wake-up %s is not after now %s", out.Next, now)
		}
		if out.Phase != opv1.GrantActive {
			return
		}
		raw := rules.HasRaw(g)
		switch {
		case prev.Ended():
			t.Fatalf("Active though ended: %+v", out)
		case now.Before(g.Spec.Term.Start.Time), !now.Before(g.Spec.Term.End.Time):
			t.Fatalf("Active outside its term: %+v", out)
		case g.Spec.Review == nil || g.Spec.Review.Decision != opv1.ReviewApproved:
			t.Fatalf("Active without an approval: %+v", out)
		case w.Agreement.Status.Phase != opv1.PhaseActive:
			t.Fatalf("Active under a %s agreement", w.Agreement.Status.Phase)
		case w.Domain.Spec.EmergencyStop.Active:
			t.Fatal("Active under an emergency stop")
		case w.Workspace.Status.Teardown != nil, w.Workspace.Status.Namespace == "":
			t.Fatal("Active without a live workspace")
		case !w.Resources["traffic"].Status.Offerable:
			t.Fatal("Active on a resource no longer offered")
		case len(rules.Grant(g, w)) > 0:
			t.Fatalf("Active though a rule forbids it: %v", rules.Grant(g, w)[0])
		case w.Domain.Spec.NetworkPolicy.Cilium() && !bit(10):
			t.Fatal("Active with half a path (Cilium asked, not served)")
		case raw && !w.Domain.Status.DNS.Contained:
			t.Fatal("Raw data open while the domain's DNS leaks")
		case raw && !meta.IsStatusConditionTrue(w.Workspace.Status.Conditions, opv1.ConditionSealed):
			t.Fatal("Raw data open to an unsealed workspace")
		case slices.Contains(g.Spec.Items[0].Fields, "plate_number"):
			t.Fatal("Active on a field the resource does not have")
		}
	})
}
