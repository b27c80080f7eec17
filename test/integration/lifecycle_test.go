package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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

// setPolicy changes the domain's rulebook or its own policy values.
func setPolicy(t testing.TB, d *opv1.OperationDomain, change func(*opv1.OperationDomainSpec)) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	patch := client.MergeFrom(d.DeepCopy())
	change(&d.Spec)
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
}

// R2: a regulator's suspension not lifted by its deadline terminates the agreement where the
// rulebook says so (Jiangsu, JS art. 26), recorded as what it was: NotRectified.
func TestR2_UnremediedRegulatorSuspensionEndsAsNotRectified(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc1", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionRegulatorOrder, Note: "inspection found unlogged exports"})
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	g.Expect(w.developer.Status.SuspendedAt).NotTo(BeNil())
	deadline := w.developer.Status.SuspendedAt.AddDate(0, 0, 30)
	g.Expect(w.developer.Status.RectificationDeadline.Time).To(Equal(deadline), "deadline = suspension start + rectificationDays")
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended))

	clock.Step(deadline.Sub(clock.Now()) - time.Second)
	g.Consistently(phaseOf(w.developer), time.Second, poll).Should(Equal(opv1.PhaseSuspended), "not before the deadline")
	clock.Step(2 * time.Second)
	g.Eventually(phaseOf(w.developer), time.Second, 10*time.Millisecond).Should(Equal(opv1.PhaseTerminated), "within a second of the deadline")
	g.Expect(w.developer.Status.EndReason).To(Equal(opv1.EndNotRectified), "not a failed evaluation")
	g.Expect(conditionText(w.developer, opv1.ConditionReady)()).To(ContainSubstring("RegulatorOrder"))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceTornDown))
}

// R2: under Yunnan's rulebook nothing in the text terminates on an unremedied period (YN art.
// 26): the suspension stays, flagged, until the authority lifts it or ends the agreement.
func TestR2_UnderYunnanAnUnremediedSuspensionStaysFlagged(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc9", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.Rulebook = opv1.RulebookYunnan })
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	clock.Step(w.developer.Status.RectificationDeadline.Sub(clock.Now()) + time.Second)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).
		Should(HavePrefix("True/" + opv1.ReasonReevaluationOverdue))
	g.Expect(w.developer.Status.Phase).To(Equal(opv1.PhaseSuspended))
	g.Consistently(phaseOf(w.developer), time.Second, poll).Should(Equal(opv1.PhaseSuspended))
}

// R2, R7: evaluations are due at the domain's interval (developers every 6 months, YC plan
// 八(四)1): one overdue raises EvaluationWarning, reason EvaluationOverdue, and a Warning Event
// on the agreement; an evaluation clears it and sets the next due date.
func TestR2_AnOverdueEvaluationRaisesAWarningAndAnEvent(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc10", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.AgreementPolicy.DeveloperEvaluationMonths = 1 })
	g.Expect(conditionText(w.developer, opv1.ConditionEvaluationWarning)()).To(HavePrefix("False/"))
	due := w.developer.Spec.Term.Start.AddDate(0, 1, 0)
	g.Eventually(func() time.Time {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)
		return w.developer.Status.NextTransition.Time
	}, timeout, poll).Should(Equal(due), "it wakes when the evaluation falls due")

	clock.Step(due.Sub(clock.Now()) + time.Second)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).
		Should(And(HavePrefix("True/"+opv1.ReasonEvaluationOverdue), ContainSubstring("agreementPolicy.developerEvaluationMonths")))
	g.Eventually(func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(w.control()))
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == w.developer.Name && e.Type == corev1.EventTypeWarning {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}, timeout, poll).Should(ContainElement(opv1.ReasonEvaluationOverdue))
	g.Expect(w.developer.Status.Phase).To(Equal(opv1.PhaseActive), "overdue is a warning, not a cut")

	evaluate(t, w.developer, "2026-M1", opv1.EvaluationPass)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).Should(HavePrefix("False/"))
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

// R2: a Rectify evaluation gives 30 days from its date and keeps access, as YN art. 26 reads;
// a domain that chooses to suspend during rectification cuts access until a later evaluation
// passes.
func TestR2_RectifyKeepsAccessUnlessTheDomainSuspendsAndAPassRestores(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc3", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	evaluate(t, w.developer, "2026-H1", opv1.EvaluationRectify)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).
		Should(And(HavePrefix("True/"+opv1.ReasonRectificationDue), ContainSubstring("2026-H1")))
	g.Expect(w.developer.Status.Phase).To(Equal(opv1.PhaseActive))
	date := w.developer.Spec.Evaluations[0].Date
	g.Expect(w.developer.Status.RectificationDeadline.Time).To(Equal(date.AddDate(0, 0, 30)), "30 days from the evaluation")

	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.AgreementPolicy.DuringRectification = opv1.RectificationSuspends })
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended))

	evaluate(t, w.developer, "2026-H1-recheck", opv1.EvaluationPass)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseActive))
	waitReady(t, w.ws)
}

// R2: failed evaluations only warn where the text sets no count; under Nanjing's rulebook two in
// a row end the agreement (NJ 14), as a failed evaluation.
func TestR2_UnderNanjingTwoFailedEvaluationsInARowTerminate(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc4", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	evaluate(t, w.developer, "2026-Q1", opv1.EvaluationFail)
	evaluate(t, w.developer, "2026-Q2", opv1.EvaluationFail)
	g.Eventually(conditionText(w.developer, opv1.ConditionEvaluationWarning), timeout, poll).
		Should(And(HavePrefix("True/"+opv1.ReasonEvaluationFailed), ContainSubstring("2026-Q2")))
	g.Consistently(phaseOf(w.developer), time.Second, poll).Should(Equal(opv1.PhaseActive), "under Jiangsu failures only warn")

	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.Rulebook = opv1.RulebookNanjing })
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseTerminated))
	g.Expect(w.developer.Status.EndReason).To(Equal(opv1.EndEvaluationFailed))
	g.Expect(conditionText(w.developer, opv1.ConditionReady)()).To(ContainSubstring("NJ 14"))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceTornDown))
}

// R2: an ending for Breach proposes a bar the authority confirms (YN art. 21) — until it does,
// the party is not barred; once listed in spec.blacklist, it is. A domain that bars
// automatically bars at once.
func TestR2_ABreachProposesABarTheAuthorityConfirms(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc5", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	terminate(t, w.developer, opv1.EndBreach)
	code := w.developer.Spec.Party.CreditCode
	proposed := func() []opv1.BlacklistEntry {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		return w.domain.Status.ProposedBars
	}
	g.Eventually(proposed, timeout, poll).Should(ContainElement(And(
		HaveField("CreditCode", code), HaveField("Reason", ContainSubstring("Breach")))))
	g.Expect(w.domain.Status.Blacklist).To(BeEmpty(), "proposed, not barred")

	again := w.developer.DeepCopy()
	again.ObjectMeta = metav1.ObjectMeta{Name: "acme-again", Namespace: w.control()}
	again.Spec.Termination = nil
	again.Status = opv1.AuthorizationStatus{}
	g.Expect(k8s.Create(ctx, again, client.DryRunAll)).To(Succeed(), "a proposal bars no one")

	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) {
		s.Blacklist = append(s.Blacklist, opv1.BlacklistEntry{CreditCode: code, Reason: "confirmed: breach of the development agreement"})
	})
	g.Eventually(proposed, timeout, poll).Should(BeEmpty(), "confirmed")
	g.Expect(w.domain.Status.Blacklist).To(ContainElement(HaveField("CreditCode", code)))
	rejected(t, again.DeepCopy(), "spec.party.creditCode", code, "confirmed: breach")

	// Automatic: the ending bars by itself (the behaviour before rulebooks, still available).
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) {
		s.Blacklist = nil
		s.AgreementPolicy.Bars = opv1.BarAutomatic
	})
	g.Eventually(func() []opv1.BlacklistEntry {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		return w.domain.Status.Blacklist
	}, timeout, poll).Should(ContainElement(And(HaveField("CreditCode", code), HaveField("Reason", ContainSubstring("ended with Breach")))))
	rejected(t, again.DeepCopy(), "spec.party.creditCode", code, "blacklist (Authorization acme ended with Breach")
}

// R2: a party blacklisted by hand while its agreement waits for its term is never activated.
func TestR2_BlacklistedPartyCannotGetANewAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc8", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	start := clock.Now().Add(time.Hour)
	late := newPendingAgreement(t, w, "late-starter", "91320100MA1LATE01X", start)
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) {
		s.Blacklist = append(s.Blacklist, opv1.BlacklistEntry{CreditCode: "91320100MA1LATE01X", Reason: "court order"})
	})
	rejected(t, func() *opv1.Authorization {
		a := late.DeepCopy()
		a.ObjectMeta = metav1.ObjectMeta{Name: "late-again", Namespace: w.control()}
		return a
	}(), "spec.party.creditCode", "court order")
	clock.Step(start.Sub(clock.Now()) + time.Second)
	g.Eventually(conditionText(late, opv1.ConditionReady), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonPartyBlacklisted), ContainSubstring("spec.party.creditCode")))
	g.Consistently(phaseOf(late), time.Second, poll).Should(Equal(opv1.PhasePending))
}

// newPendingAgreement creates a Developer agreement under w's operator whose term starts later.
func newPendingAgreement(t testing.TB, w *world, name, creditCode string, start time.Time) *opv1.Authorization {
	t.Helper()
	a := &opv1.Authorization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()},
		Spec: opv1.AuthorizationSpec{
			Role: opv1.RoleDeveloper, Parent: w.operator.Name,
			Party: opv1.Party{Name: name + " Co.", CreditCode: creditCode},
			Term:  opv1.Term{Start: metav1.NewTime(start), End: w.operator.Spec.Term.End},
		},
	}
	NewWithT(t).Expect(k8s.Create(ctx, a)).To(Succeed())
	return a
}

func TestR2_OperatorEntityTakesNoPartInDevelopment(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lc6", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)

	// The operator's own party applying for a Developer agreement is refused, and the reverse.
	dev := w.developer.DeepCopy()
	dev.ObjectMeta = metav1.ObjectMeta{Name: "operator-as-developer", Namespace: w.control()}
	dev.Spec.Party = w.operator.Spec.Party
	dev.Status = opv1.AuthorizationStatus{}
	rejected(t, dev, "spec.party.creditCode", "holds Operator agreement operator", "may not also hold an agreement as Developer")
	op := w.operator.DeepCopy()
	op.ObjectMeta = metav1.ObjectMeta{Name: "developer-as-operator", Namespace: w.control()}
	op.Spec.Party = w.developer.Spec.Party
	op.Status = opv1.AuthorizationStatus{}
	rejected(t, op, "spec.party.creditCode", "holds Developer agreement acme", "may not also hold an agreement as Operator")

	// A person of the Operator agreement is refused as a member of a developer workspace.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.operator), w.operator)).To(Succeed())
	patch := client.MergeFrom(w.operator.DeepCopy())
	w.operator.Spec.Persons = append(w.operator.Spec.Persons, opv1.Person{Name: "Li Si", User: member, TrainedAt: w.developer.Spec.Persons[0].TrainedAt})
	g.Expect(k8s.Patch(ctx, w.operator, patch)).To(Succeed())
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonMemberNotEligible), ContainSubstring("Operator agreement operator")))
	g.Expect(w.ws.Status.Credentials).To(BeEmpty())
	rejected(t, &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
	}, "spec.members[0]", "is a person of Operator agreement operator, which takes no part in development")
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
	g.Expect(rec.Spec.Steps).To(HaveLen(2))
	g.Expect(rec.Spec.Steps[0].Name).To(Equal("grants"))
	g.Expect(rec.Spec.Steps[1].Objects).To(ConsistOf(HaveField("Name", w.ws.Status.Teardown.Record)))
	var wsRecord opv1.TeardownRecord
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.ws.Status.Teardown.Record}, &wsRecord)).To(Succeed())
	g.Expect(rec.Spec.Sequence).To(BeNumerically(">", wsRecord.Spec.Sequence), "chained after the workspace's record")
}
