package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// rejected asserts that creating obj fails at admission with a message naming every part, and
// that nothing was stored.
func rejected(t testing.TB, obj client.Object, parts ...string) {
	t.Helper()
	rejectedAs(t, k8s, obj, parts...)
}

// rejectedAs is rejected for a create made by c's user.
func rejectedAs(t testing.TB, c client.Client, obj client.Object, parts ...string) {
	t.Helper()
	g := NewWithT(t)
	err := c.Create(ctx, obj)
	g.Expect(err).To(HaveOccurred())
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
	for _, p := range parts {
		g.Expect(err.Error()).To(ContainSubstring(p))
	}
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj))).To(BeTrue(), "nothing stored")
}

func validDomain(name string) *opv1.OperationDomain {
	return &opv1.OperationDomain{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: opv1.OperationDomainSpec{
			ControlNamespace: name + "-control", DataZoneNamespace: name + "-data",
			Authority: opv1.Authority{Name: "Bureau"},
		},
	}
}

func TestR2_DomainRejectsTermLimitsAboveTheLegalMaximum(t *testing.T) {
	d := validDomain("bad-operator-term")
	d.Spec.AgreementPolicy.MaxOperatorTermYears = 6
	rejected(t, d, "spec.agreementPolicy.maxOperatorTermYears", "less than or equal to 5")

	d = validDomain("bad-developer-term")
	d.Spec.AgreementPolicy.MaxDeveloperTermYears = 4
	rejected(t, d, "spec.agreementPolicy.maxDeveloperTermYears", "less than or equal to 3")
}

func TestR6_DomainRejectsLogRetentionUnderSixMonths(t *testing.T) {
	d := validDomain("short-retention")
	d.Spec.LogRetentionDays = 90
	rejected(t, d, "spec.logRetentionDays", "greater than or equal to 180")
}

func TestR3_CredentialTTLMustBeBetweenTenMinutesAndADay(t *testing.T) {
	for _, ttl := range []time.Duration{5 * time.Minute, 25 * time.Hour} {
		d := validDomain("bad-ttl")
		d.Spec.WorkspaceDefaults.CredentialTTL = &metav1.Duration{Duration: ttl}
		rejected(t, d, "spec.workspaceDefaults.credentialTTL", "between 10m and 24h")

		ws := &opv1.DeveloperWorkspace{
			ObjectMeta: metav1.ObjectMeta{Name: "bad-ttl", Namespace: "default"},
			Spec:       opv1.DeveloperWorkspaceSpec{Authorization: "a", CredentialTTL: &metav1.Duration{Duration: ttl}},
		}
		rejected(t, ws, "spec.credentialTTL", "between 10m and 24h")
	}
}

func TestR1_DomainRejectsUnknownPolicyModeAndSharedNamespaces(t *testing.T) {
	d := validDomain("calico")
	d.Spec.NetworkPolicy = "Calico"
	rejected(t, d, "spec.networkPolicy", `"Kubernetes", "Cilium", "Both"`)

	d = validDomain("same-ns")
	d.Spec.DataZoneNamespace = d.Spec.ControlNamespace
	rejected(t, d, "spec.dataZoneNamespace must differ from spec.controlNamespace")
}

func TestR2_AgreementRejectsBadTermsRolesAndCodes(t *testing.T) {
	now := time.Now()
	valid := func(name string) *opv1.Authorization {
		return &opv1.Authorization{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: opv1.AuthorizationSpec{
				Role: opv1.RoleDeveloper, Parent: "operator",
				Party: opv1.Party{Name: "Acme", CreditCode: "91320100MA1ABCDE2J"},
				Term:  opv1.Term{Start: metav1.NewTime(now), End: metav1.NewTime(now.Add(time.Hour))},
			},
		}
	}
	a := valid("backwards")
	a.Spec.Term.End = metav1.NewTime(now.Add(-time.Hour))
	rejected(t, a, "spec.term", "term.end must be after term.start")

	a = valid("orphan")
	a.Spec.Parent = ""
	rejected(t, a, "spec", "spec.parent is required for a Developer agreement")

	a = valid("operator-with-parent")
	a.Spec.Role = opv1.RoleOperator
	rejected(t, a, "spec.parent is required for a Developer agreement and forbidden for an Operator agreement")

	a = valid("bad-code")
	a.Spec.Party.CreditCode = "not-a-code"
	rejected(t, a, "spec.party.creditCode")

	// The alphabet is the schema's; the check character is the webhook's (GB 32100-2015).
	a = valid("mistyped-code")
	a.Spec.Party.CreditCode = "91320100MA1ABCDE2X"
	rejected(t, a, "spec.party.creditCode", "91320100MA1ABCDE2X is no unified social credit code", "GB 32100-2015")
}

func TestR2_TerminationIsOneWay(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "oneway", opv1.NetworkPolicyKubernetes)
	a := newAgreement(t, d, "operator", opv1.RoleOperator, "", time.Hour, "91320100MA1CPRAT0P")
	terminate(t, a, opv1.EndBreach)
	g.Eventually(func() opv1.AuthorizationPhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
		return a.Status.Phase
	}, timeout, poll).Should(Equal(opv1.PhaseTerminated))

	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Termination = nil
	err := k8s.Patch(ctx, a, patch)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("spec.termination is one-way"))

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch = client.MergeFrom(a.DeepCopy())
	a.Spec.Termination.Reason = opv1.EndVoluntaryRequest
	g.Expect(k8s.Patch(ctx, a, patch)).NotTo(Succeed())
}

// R2: an end the known reasons do not name is Other, and then its note says what it was; the
// agreement ends and is recorded like any other, and bars no one.
func TestR2_AnOtherEndNeedsItsNote(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "otherend", opv1.NetworkPolicyKubernetes)
	a := newAgreement(t, d, "operator", opv1.RoleOperator, "", time.Hour, "91320100MA1CPRAT0P")
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Termination = &opv1.Termination{Reason: opv1.EndOther}
	err := k8s.Patch(ctx, a, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.termination.note is required when the reason is Other"))

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch = client.MergeFrom(a.DeepCopy())
	a.Spec.Termination = &opv1.Termination{Reason: opv1.EndOther, Note: "the operator entity was merged into another company"}
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
		return string(a.Status.Phase) + "/" + string(a.Status.EndReason) + "/" + a.Status.TeardownRecord
	}, timeout, poll).Should(MatchRegexp("^Terminated/Other/otherend-"), "ended, and recorded")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	g.Expect(d.Status.Blacklist).To(BeEmpty(), "an Other end bars no one")
	g.Expect(d.Status.ProposedBars).To(BeEmpty(), "nor proposes a bar")
}

func TestR2_TermLongerThanTheDomainAllowsIsRefused(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "longterm", opv1.NetworkPolicyKubernetes)
	now := clock.Now()
	a := &opv1.Authorization{
		ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: d.Spec.ControlNamespace},
		Spec: opv1.AuthorizationSpec{
			Role:  opv1.RoleOperator,
			Party: opv1.Party{Name: "Operator", CreditCode: "91320100MA1CPRAT0P"},
			Term:  opv1.Term{Start: metav1.NewTime(now), End: metav1.NewTime(now.AddDate(3, 0, 1))},
		},
	}
	rejected(t, a, "spec.term.end", "at most 3 years for Operator agreements", "end <= start + 3 years")

	// Three calendar years exactly is lawful; a domain that later shortens its maximum cuts it.
	a.Spec.Term.End = metav1.NewTime(now.AddDate(3, 0, 0))
	g.Expect(k8s.Create(ctx, a)).To(Succeed())
	g.Eventually(phaseOf(a), timeout, poll).Should(Equal(opv1.PhaseActive))
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.AgreementPolicy.MaxOperatorTermYears = 2
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
	g.Eventually(conditionText(a, opv1.ConditionTermValid), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonTermExceedsPolicy), ContainSubstring("spec.term.end"), ContainSubstring("2 years")))
	g.Expect(a.Status.Phase).To(Equal(opv1.PhasePending), "fail closed: an unlawful term grants nothing")
}

func TestR2_AnActiveAgreementKeepsItsPartyAndCannotBeExtended(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "frozen", opv1.NetworkPolicyKubernetes, 30*24*time.Hour)
	a := w.developer

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Party.Name = "Someone Else Co."
	err := k8s.Patch(ctx, a, patch)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("spec.party cannot change"))

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch = client.MergeFrom(a.DeepCopy())
	a.Spec.Term.End = metav1.NewTime(a.Spec.Term.End.Add(24 * time.Hour))
	err = k8s.Patch(ctx, a, patch)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("a renewal is a new agreement"))

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch = client.MergeFrom(a.DeepCopy())
	a.Spec.Term.End = metav1.NewTime(a.Spec.Term.End.Add(-24 * time.Hour))
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed(), "ending earlier is allowed")
}

func TestR2_DeveloperAgreementMustFitUnderALiveOperatorAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "scoped", opv1.NetworkPolicyKubernetes, 30*24*time.Hour)
	child := func(name string, mutate func(*opv1.AuthorizationSpec)) *opv1.Authorization {
		a := w.developer.DeepCopy()
		a.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: w.control()}
		a.Status = opv1.AuthorizationStatus{}
		mutate(&a.Spec)
		return a
	}
	rejected(t, child("wide", func(s *opv1.AuthorizationSpec) { s.Scope.Resources = []string{"hospital-visits"} }),
		"spec.scope.resources", "hospital-visits", "outside the parent agreement's scope")
	rejected(t, child("long", func(s *opv1.AuthorizationSpec) { s.Term.End = metav1.NewTime(w.operator.Spec.Term.End.Add(time.Hour)) }),
		"spec.term", "within the parent agreement's term")
	rejected(t, child("orphan", func(s *opv1.AuthorizationSpec) { s.Parent = "nobody" }),
		"spec.parent", `Operator agreement "nobody" not found`)
	rejected(t, child("grandchild", func(s *opv1.AuthorizationSpec) { s.Parent = w.developer.Name }),
		"spec.parent", "is a Developer agreement")

	// The parent narrowing its scope after admission holds the child: the same rule, in status.
	setScope(t, w.operator, "traffic-flow", "weather")
	setScope(t, w.developer, "traffic-flow")
	setScope(t, w.operator, "weather")
	g.Eventually(conditionText(w.developer, opv1.ConditionReady), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonExceedsParent), ContainSubstring("spec.scope.resources: [traffic-flow] are outside")))
	g.Eventually(workspacePhase(w.ws), timeout, poll).ShouldNot(Equal(opv1.WorkspaceReady))

	terminate(t, w.operator, opv1.EndVoluntaryRequest)
	g.Eventually(phaseOf(w.operator), timeout, poll).Should(Equal(opv1.PhaseTerminated))
	rejected(t, child("late", func(*opv1.AuthorizationSpec) {}), "spec.parent", `Operator agreement "operator" has ended`)

}

func setScope(t testing.TB, a *opv1.Authorization, resources ...string) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Scope.Resources = resources
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
}

func TestR2_ResourceOnTheNegativeListIsNeverAuthorized(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "negative", opv1.NetworkPolicyKubernetes)
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.NegativeList = []string{"hospital-visits"}
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
	now := clock.Now()
	rejected(t, &opv1.Authorization{
		ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: d.Spec.ControlNamespace},
		Spec: opv1.AuthorizationSpec{
			Role:  opv1.RoleOperator,
			Party: opv1.Party{Name: "Operator", CreditCode: "91320100MA1CPRAT0P"},
			Term:  opv1.Term{Start: metav1.NewTime(now), End: metav1.NewTime(now.AddDate(1, 0, 0))},
			Scope: opv1.Scope{Resources: []string{"traffic-flow", "hospital-visits"}},
		},
	}, "spec.scope.resources", "[hospital-visits] are on the domain's negative list")
}
