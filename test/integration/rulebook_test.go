package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
)

// looser is one way to loosen a rulebook's value, when there is one.
type looser struct {
	field string
	apply func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool
}

var loosenings = []looser{
	{"spec.agreementPolicy.maxOperatorTermYears", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.MaxOperatorTermYears = p.MaxOperatorTermYears + 1
		return true
	}},
	{"spec.agreementPolicy.rectificationDays", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.RectificationDays = p.RectificationDays + 1
		return true
	}},
	{"spec.agreementPolicy.whenUnremedied", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.WhenUnremedied = opv1.UnremediedReevaluate
		return p.WhenUnremedied == opv1.UnremediedTerminate
	}},
	{"spec.agreementPolicy.failedEvaluationsToEnd", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.FailedEvaluationsToEnd = p.FailedEvaluationsToEnd + 1
		return p.FailedEvaluationsToEnd > 0
	}},
	{"spec.agreementPolicy.developerEvaluationMonths", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.DeveloperEvaluationMonths = p.DeveloperEvaluationMonths + 1
		return true
	}},
	{"spec.agreementPolicy.operatorEvaluationMonths", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.OperatorEvaluationMonths = p.OperatorEvaluationMonths + 1
		return true
	}},
	{"spec.agreementPolicy.undertakings", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.Undertakings = opv1.Optional
		return p.Undertakings == opv1.Required
	}},
	{"spec.agreementPolicy.rawAssessments", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.AgreementPolicy.RawAssessments = opv1.Optional
		return p.RawAssessments == opv1.Required
	}},
	{"spec.logRetentionDays", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.LogRetentionDays = p.LogRetentionDays - 1
		return true
	}},
	{"spec.recordRetentionDays", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		s.RecordRetentionDays = p.RecordRetentionDays - 1
		return true
	}},
	{"spec.products.reviewStages", func(s *opv1.OperationDomainSpec, p rulebook.Policy) bool {
		if len(p.ReviewStages) > 1 {
			s.Products.ReviewStages = []opv1.ReviewStage{p.ReviewStages[1], p.ReviewStages[0]} // out of order
		} else {
			s.Products.ReviewStages = []opv1.ReviewStage{opv1.StageTechnical} // the rulebook's stage dropped
		}
		return true
	}},
}

// R2–R6: under every regional rulebook, each value it decides may be overridden only in the
// stricter direction: one step looser is refused at admission, naming the field, and the
// rulebook's own value (or a stricter one) is admitted. Custom admits the looser values, within
// the schema's floors. The looser values are computed from the same table the operator enforces,
// so admission and the reconcilers cannot drift apart unnoticed.
func TestR2_R6_ARulebookValueMayOnlyBeTightened(t *testing.T) {
	g := NewWithT(t)
	books := []opv1.Rulebook{opv1.RulebookJiangsu, opv1.RulebookYancheng, opv1.RulebookYunnan, opv1.RulebookHeilongjiang, opv1.RulebookNanjing}
	for _, book := range books {
		p := rulebook.Of(&opv1.OperationDomainSpec{Rulebook: book})
		same := validDomain(fmt.Sprintf("rb-%s-same", strings.ToLower(string(book))))
		same.Spec.Rulebook = book
		same.Spec.AgreementPolicy = opv1.AgreementPolicy{MaxOperatorTermYears: p.MaxOperatorTermYears, RectificationDays: p.RectificationDays - 1,
			WhenUnremedied: opv1.UnremediedTerminate, Undertakings: opv1.Required, RawAssessments: opv1.Required, Bars: opv1.BarAutomatic,
			DuringRectification: opv1.RectificationSuspends, FailedEvaluationsToEnd: 1}
		same.Spec.LogRetentionDays, same.Spec.RecordRetentionDays = p.LogRetentionDays, p.RecordRetentionDays+1
		same.Spec.Products.ReviewStages = append([]opv1.ReviewStage{opv1.StageOperator}, p.ReviewStages...)
		if book != opv1.RulebookNanjing {
			same.Spec.Products.ReviewStages = slices.Concat(p.ReviewStages, []opv1.ReviewStage{opv1.StageTechnical})
		}
		g.Expect(k8s.Create(ctx, same, client.DryRunAll)).To(Succeed(), "%s: the rulebook's values, or stricter", book)

		for _, l := range loosenings {
			d := validDomain(fmt.Sprintf("rb-%s-loose", strings.ToLower(string(book))))
			d.Spec.Rulebook = book
			if !l.apply(&d.Spec, p) {
				continue // nothing is looser than this rulebook's value
			}
			t.Run(string(book)+"/"+l.field, func(t *testing.T) {
				rejected(t, d, l.field)
			})
		}
	}

	custom := rulebook.Of(&opv1.OperationDomainSpec{Rulebook: opv1.RulebookCustom})
	for _, l := range loosenings {
		d := validDomain("rb-custom")
		d.Spec.Rulebook = opv1.RulebookCustom
		if !l.apply(&d.Spec, custom) || l.field == "spec.logRetentionDays" {
			continue // 180 days of network logs is national law (Cybersecurity Law art. 21), Custom or not
		}
		g.Expect(k8s.Create(ctx, d, client.DryRunAll)).To(Succeed(), "Custom admits a looser %s", l.field)
	}
	d := validDomain("rb-custom-logs")
	d.Spec.Rulebook = opv1.RulebookCustom
	d.Spec.LogRetentionDays = 179
	rejected(t, d, "spec.logRetentionDays", "greater than or equal to 180")
}

// R2–R6: the domain shows the policy in force, each value with its article, and its own
// stricter values as its own.
func TestR2_R6_TheDomainShowsItsPolicyInForceWithArticles(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "rbshow", opv1.NetworkPolicyKubernetes)
	setPolicy(t, d, func(s *opv1.OperationDomainSpec) {
		s.Rulebook = opv1.RulebookHeilongjiang
		s.RecordRetentionDays = 2000
	})
	g.Eventually(func() opv1.EffectivePolicy {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(d), d)
		return d.Status.Policy
	}, timeout, poll).Should(And(
		HaveField("Rulebook", opv1.RulebookHeilongjiang),
		HaveField("Values", ContainElements(
			opv1.PolicyValue{Name: "logRetentionDays", Value: "730", Source: "HLJ art. 29"},
			opv1.PolicyValue{Name: "agreementPolicy.maxOperatorTermYears", Value: "3", Source: "HLJ art. 14(2)"},
			opv1.PolicyValue{Name: "recordRetentionDays", Value: "2000", Source: "domain (stricter than 1095: HLJ is silent; PIPL art. 56 (national))"},
			HaveField("Name", "persons.training"),
		))))
}

// R3: under Yunnan's rulebook every person signs a confidentiality undertaking (YN art. 25(1)):
// a member without one recorded loses access, and regains it once it is recorded; a member
// without one is refused at admission.
func TestR3_UnderYunnanAPersonNeedsASignedUndertaking(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "rbund", opv1.NetworkPolicyKubernetes, 90*24*time.Hour)
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.Rulebook = opv1.RulebookYunnan })
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).
		Should(And(HavePrefix("False/"+opv1.ReasonMemberNotEligible), ContainSubstring("no signed confidentiality undertaking")))
	g.Expect(w.ws.Status.Credentials).To(BeEmpty())
	rejected(t, &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
	}, "spec.members[0]", "no signed confidentiality undertaking")

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)).To(Succeed())
	patch := client.MergeFrom(w.developer.DeepCopy())
	w.developer.Spec.Persons[0].UndertakingSignedAt = &metav1.Time{Time: clock.Now().Add(-time.Hour)}
	g.Expect(k8s.Patch(ctx, w.developer, patch)).To(Succeed())
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).Should(HavePrefix("True/"))
	waitReady(t, w.ws)
}

// R3: under Yunnan's rulebook a developer works on raw data only after the operator entity's
// security assessment (YN art. 25(3)): a Raw grant is approved only with one recorded, by one of
// the operator entity's reviewers as themselves; a Desensitized one needs none.
func TestR3_UnderYunnanARawGrantNeedsTheOperatorsSecurityAssessment(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "rbraw", opv1.NetworkPolicyKubernetes)
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) { s.Rulebook = opv1.RulebookYunnan })
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)).To(Succeed())
	patch := client.MergeFrom(w.developer.DeepCopy())
	w.developer.Spec.Persons[0].UndertakingSignedAt = &metav1.Time{Time: clock.Now().Add(-time.Hour)} // YN art. 25(1)
	g.Expect(k8s.Patch(ctx, w.developer, patch)).To(Succeed())

	rejectedAs(t, asReviewer, w.grant("raw"), "spec.securityAssessment", "security assessment", "YN art. 25(3)")
	g.Expect(asReviewer.Create(ctx, w.grant("masked", func(s *opv1.DataGrantSpec) { s.Items[0].Form = opv1.FormDesensitized }), client.DryRunAll)).
		To(Succeed(), "only Raw data needs the assessment")
	assessed := func(who string) func(*opv1.DataGrantSpec) {
		return func(s *opv1.DataGrantSpec) {
			s.SecurityAssessment = &opv1.SecurityAssessment{Assessor: who, Date: metav1.NewTime(clock.Now()), Reference: "https://records.example/assessments/acme-raw-1"}
		}
	}
	rejectedAs(t, k8s, w.grant("raw", assessed(reviewer)), "spec.securityAssessment.assessor", reviewer+" is not the caller")
	raw := w.grant("raw", assessed(reviewer))
	g.Expect(asReviewer.Create(ctx, raw)).To(Succeed())
	g.Eventually(grantPhase(raw), timeout, poll).Should(Equal(opv1.GrantActive))
}
