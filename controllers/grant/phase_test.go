package grant

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rules"
)

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func world() rules.GrantWorld {
	agreement := &opv1.Authorization{
		ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec: opv1.AuthorizationSpec{Role: opv1.RoleDeveloper, Scope: opv1.Scope{Resources: []string{"traffic"}},
			Term: opv1.Term{Start: metav1.NewTime(t0.AddDate(-1, 0, 0)), End: metav1.NewTime(t0.AddDate(1, 0, 0))}},
		Status: opv1.AuthorizationStatus{Phase: opv1.PhaseActive},
	}
	return rules.GrantWorld{
		Domain:    &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Status: opv1.OperationDomainStatus{DNS: opv1.DNSStatus{Contained: true}}},
		Agreement: agreement,
		Workspace: &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "dev"},
			Spec: opv1.DeveloperWorkspaceSpec{Authorization: "acme"}, Status: opv1.DeveloperWorkspaceStatus{Namespace: "d-ws-dev",
				Conditions: []metav1.Condition{{Type: opv1.ConditionSealed, Status: metav1.ConditionTrue}}}},
		Resources: map[string]*opv1.DataResource{"traffic": {
			ObjectMeta: metav1.ObjectMeta{Name: "traffic"},
			Spec:       opv1.DataResourceSpec{Level: 2, Fields: []opv1.Field{{Name: "road_id"}}},
			Status:     opv1.DataResourceStatus{Offerable: true},
		}},
	}
}

func approved(phase opv1.GrantPhase) *opv1.DataGrant {
	return &opv1.DataGrant{
		Spec: opv1.DataGrantSpec{
			Authorization: "acme", Workspace: "dev", RequestedBy: "li",
			Items:  []opv1.GrantItem{{Resource: "traffic", Fields: []string{"road_id"}, Form: opv1.FormRaw}},
			Term:   opv1.Term{Start: metav1.NewTime(t0), End: metav1.NewTime(t0.AddDate(0, 1, 0))},
			Review: &opv1.Review{Reviewer: "wang", Decision: opv1.ReviewApproved},
		},
		Status: opv1.DataGrantStatus{Phase: phase},
	}
}

func TestR4_GrantPhase(t *testing.T) {
	end := t0.AddDate(0, 1, 0)
	for name, tc := range map[string]struct {
		grant  *opv1.DataGrant
		world  func(*rules.GrantWorld)
		now    time.Time
		phase  opv1.GrantPhase
		reason string
		next   time.Time
	}{
		"active in term": {grant: approved(""), now: t0, phase: opv1.GrantActive, next: end},
		"raw waits while the domain's DNS is not contained": {grant: approved(""), now: t0,
			world: func(w *rules.GrantWorld) { w.Domain.Status.DNS.Contained = false },
			phase: opv1.GrantPending, reason: opv1.ReasonDNSNotContained, next: end},
		"open raw suspended when the domain's DNS stops being contained": {grant: approved(opv1.GrantActive), now: t0,
			world: func(w *rules.GrantWorld) { w.Domain.Status.DNS.Contained = false },
			phase: opv1.GrantSuspended, reason: opv1.ReasonDNSNotContained, next: end},
		"sampled data does not wait for DNS": {grant: func() *opv1.DataGrant { g := approved(""); g.Spec.Items[0].Form = opv1.FormSample; return g }(), now: t0,
			world: func(w *rules.GrantWorld) {
				w.Domain.Status.DNS.Contained = false
				w.Workspace.Status.Conditions[0].Status = metav1.ConditionTrue
			},
			phase: opv1.GrantActive, next: end},
		"awaiting review": {grant: func() *opv1.DataGrant { g := approved(""); g.Spec.Review = nil; return g }(), now: t0,
			phase: opv1.GrantPending, reason: opv1.ReasonAwaitingReview, next: end},
		"review rejected after approval": {grant: func() *opv1.DataGrant {
			g := approved(opv1.GrantActive)
			g.Spec.Review.Decision = opv1.ReviewRejected
			return g
		}(), now: t0, phase: opv1.GrantRevoked, reason: opv1.ReasonReviewRejected},
		"before its term": {grant: approved(""), now: t0.Add(-time.Hour), phase: opv1.GrantPending, reason: opv1.ReasonNotInTerm, next: t0},
		"term over":       {grant: approved(opv1.GrantActive), now: end, phase: opv1.GrantExpired, reason: opv1.ReasonNotInTerm},
		"agreement suspended": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantSuspended, reason: opv1.ReasonAuthorizationInactive, next: end,
			world: func(w *rules.GrantWorld) { w.Agreement.Status.Phase = opv1.PhaseSuspended }},
		"agreement ended": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantRevoked, reason: opv1.ReasonAgreementEnded,
			world: func(w *rules.GrantWorld) { w.Agreement.Status.Phase = opv1.PhaseTerminated }},
		"emergency stop": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantSuspended, reason: opv1.ReasonEmergencyStop, next: end,
			world: func(w *rules.GrantWorld) { w.Domain.Spec.EmergencyStop.Active = true }},
		"source gone": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantSuspended, reason: opv1.ReasonSourceNotFound, next: end,
			world: func(w *rules.GrantWorld) { w.Resources["traffic"].Status.Offerable = false }},
		"negative-listed after opening": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantRevoked, reason: opv1.ReasonNegativeListed,
			world: func(w *rules.GrantWorld) { w.Domain.Spec.NegativeList = []string{"traffic"} }},
		"negative-listed before opening": {grant: approved(""), now: t0, phase: opv1.GrantPending, reason: opv1.ReasonNegativeListed, next: end,
			world: func(w *rules.GrantWorld) { w.Domain.Spec.NegativeList = []string{"traffic"} }},
		"workspace torn down": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantRevoked, reason: opv1.ReasonWorkspaceGone,
			world: func(w *rules.GrantWorld) { w.Workspace.Status.Teardown = &opv1.TeardownProgress{} }},
		"workspace deleted": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantRevoked, reason: opv1.ReasonWorkspaceMismatch,
			world: func(w *rules.GrantWorld) { w.Workspace = nil }},
		"raw waits until the workspace is sealed": {grant: approved(""), now: t0, phase: opv1.GrantPending, reason: opv1.ReasonRawData, next: end,
			world: func(w *rules.GrantWorld) { w.Workspace.Status.Conditions[0].Status = metav1.ConditionFalse }},
		"cilium asked for but not served": {grant: approved(opv1.GrantActive), now: t0, phase: opv1.GrantSuspended, reason: opv1.ReasonApplyFailed, next: end,
			world: func(w *rules.GrantWorld) { w.Domain.Spec.NetworkPolicy = opv1.NetworkPolicyBoth }},
		"ended stays ended": {grant: approved(opv1.GrantRevoked), now: t0, phase: opv1.GrantRevoked},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			w := world()
			if tc.world != nil {
				tc.world(&w)
			}
			out := Evaluate(Inputs{Grant: tc.grant, World: w, Now: tc.now})
			g.Expect(out.Phase).To(Equal(tc.phase))
			if tc.reason != "" {
				g.Expect(out.Reason).To(Equal(tc.reason))
			}
			g.Expect(out.Next).To(BeTemporally("==", tc.next))
		})
	}
}
