package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

func phaseOf(a *opv1.Authorization) func() opv1.AuthorizationPhase {
	return func() opv1.AuthorizationPhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
		return a.Status.Phase
	}
}

func workspacePhase(ws *opv1.DeveloperWorkspace) func() opv1.WorkspacePhase {
	return func() opv1.WorkspacePhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(ws), ws)
		return ws.Status.Phase
	}
}

func evaluate(t testing.TB, a *opv1.Authorization, period string, result opv1.EvaluationResult) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Evaluations = append(a.Spec.Evaluations, opv1.Evaluation{Period: period, Result: result, Date: metav1.NewTime(clock.Now())})
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
}

func TestR2_UnremediedSuspensionTerminatesAtItsDeadline(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc1", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionEvaluationRectification, Note: "fix logging"})
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	g.Expect(w.developer.Status.SuspendedAt).NotTo(BeNil())
	deadline := w.developer.Status.SuspendedAt.AddDate(0, 0, 30)
	g.Expect(w.developer.Status.RectificationDeadline.Time).To(Equal(deadline), "deadline = suspension start + rectificationDays")
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended))

	clock.Step(deadline.Sub(clock.Now()) - time.Second)
	g.Consistently(phaseOf(w.developer), time.Second, poll).Should(Equal(opv1.PhaseSuspended), "not before the deadline")
	clock.Step(2 * time.Second)
	g.Eventually(phaseOf(w.developer), time.Second, 10*time.Millisecond).Should(Equal(opv1.PhaseTerminated), "within a second of the deadline")
	g.Expect(w.developer.Status.EndReason).To(Equal(opv1.EndEvaluationFailed))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceTornDown))
}

func TestR2_SuspensionLiftedInTimeRestoresAccess(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc2", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionRegulatorOrder})
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	clock.Step(29 * 24 * time.Hour)
	setSuspension(t, w.developer, nil)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseActive))
	g.Expect(w.developer.Status.RectificationDeadline).To(BeNil())
	waitReady(t, w.ws)
	token, _ := memberToken(t, w)
	g.Expect(review(t, token)).NotTo(BeNil(), "a fresh credential works")
}

func TestR2_RectifyEvaluationSuspendsAndAPassRestores(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc3", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	evaluate(t, w.developer, "2026-H1", opv1.EvaluationRectify)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	g.Expect(w.developer.Status.RectificationDeadline).NotTo(BeNil())
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended))

	evaluate(t, w.developer, "2026-H1-recheck", opv1.EvaluationPass)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseActive))
	waitReady(t, w.ws)
}

func TestR2_TwoFailedEvaluationsInARowTerminate(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc4", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	evaluate(t, w.developer, "2026-Q1", opv1.EvaluationFail)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).
		Should(And(HavePrefix("True/"), ContainSubstring("2026-Q1")))
	g.Expect(w.developer.Status.Phase).To(Equal(opv1.PhaseActive), "one failure only warns")

	evaluate(t, w.developer, "2026-Q2", opv1.EvaluationFail)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseTerminated))
	g.Expect(w.developer.Status.EndReason).To(Equal(opv1.EndEvaluationFailed))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceTornDown))
}

func TestR2_BlacklistedPartyCannotGetANewAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc5", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	terminate(t, w.developer, opv1.EndBreach)
	g.Eventually(func() []opv1.BlacklistEntry {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		return w.domain.Status.Blacklist
	}, timeout, poll).Should(ContainElement(And(
		HaveField("CreditCode", w.developer.Spec.Party.CreditCode),
		HaveField("Reason", ContainSubstring("Breach")))))

	again := w.developer.DeepCopy()
	again.ObjectMeta = metav1.ObjectMeta{Name: "acme-again", Namespace: w.control()}
	again.Spec.Termination = nil
	again.Status = opv1.AuthorizationStatus{}
	g.Expect(k8s.Create(ctx, again)).To(Succeed())
	g.Eventually(conditionText(again, opv1.ConditionReady), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonPartyBlacklisted), ContainSubstring("spec.party.creditCode")))
	g.Consistently(phaseOf(again), time.Second, poll).Should(Equal(opv1.PhasePending))
}

func TestR2_OperatorEntityTakesNoPartInDevelopment(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc6", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)

	// The operator's own party applying for a Developer agreement is held.
	dev := w.developer.DeepCopy()
	dev.ObjectMeta = metav1.ObjectMeta{Name: "operator-as-developer", Namespace: w.control()}
	dev.Spec.Party = w.operator.Spec.Party
	dev.Status = opv1.AuthorizationStatus{}
	g.Expect(k8s.Create(ctx, dev)).To(Succeed())
	g.Eventually(conditionText(dev, opv1.ConditionReady), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonRoleConflict), ContainSubstring("operator")))

	// A person of the Operator agreement is refused as a member of a developer workspace.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.operator), w.operator)).To(Succeed())
	patch := client.MergeFrom(w.operator.DeepCopy())
	w.operator.Spec.Persons = append(w.operator.Spec.Persons, opv1.Person{Name: "Li Si", User: member, TrainedAt: w.developer.Spec.Persons[0].TrainedAt})
	g.Expect(k8s.Patch(ctx, w.operator, patch)).To(Succeed())
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonMemberNotEligible), ContainSubstring("Operator agreement operator")))
	g.Expect(w.ws.Status.Credentials).To(BeEmpty())
}

func TestR6_AnEndedAgreementRecordsItsEndingAfterItsWorkspaces(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc7", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	terminate(t, w.developer, opv1.EndVoluntaryRequest)
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)
		return w.developer.Status.TeardownRecord
	}, timeout, poll).ShouldNot(BeEmpty())
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceTornDown))
	g.Expect(w.ws.Status.Teardown.Record).NotTo(BeEmpty(), "the workspace recorded its teardown before the agreement recorded its end")

	var rec opv1.TeardownRecord
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.developer.Status.TeardownRecord}, &rec)).To(Succeed())
	g.Expect(rec.Spec.Subject.Kind).To(Equal("Authorization"))
	g.Expect(rec.Spec.Subject.UID).To(Equal(string(w.developer.UID)))
	g.Expect(rec.Spec.Reason).To(Equal(string(opv1.EndVoluntaryRequest)))
	g.Expect(rec.Spec.Steps).To(HaveLen(1))
	g.Expect(rec.Spec.Steps[0].Objects).To(ConsistOf(HaveField("Name", w.ws.Status.Teardown.Record)))
	var wsRecord opv1.TeardownRecord
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.ws.Status.Teardown.Record}, &wsRecord)).To(Succeed())
	g.Expect(rec.Spec.Sequence).To(BeNumerically(">", wsRecord.Spec.Sequence), "chained after the workspace's record")
}
