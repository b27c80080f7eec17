package rulebook

import (
	"testing"

	. "github.com/onsi/gomega"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// TestR2_R6_EachRulebookSetsItsRegionsValues: the effective policy of a domain that overrides
// nothing, per rulebook, with the article of each value.
func TestR2_R6_EachRulebookSetsItsRegionsValues(t *testing.T) {
	type want struct {
		opTerm, devTerm, days, failures, logDays, recordDays int32
		during                                               opv1.DuringRectification
		unremedied                                           opv1.WhenUnremedied
		undertakings                                         opv1.Requirement
		stages                                               []opv1.ReviewStage
		sources                                              map[string]string
	}
	operator := []opv1.ReviewStage{opv1.StageOperator}
	for _, tc := range []struct {
		book opv1.Rulebook
		want want
	}{
		{"", want{3, 3, 30, 0, 180, 1095, "Continue", "Terminate", "Optional", operator,
			map[string]string{"agreementPolicy.maxOperatorTermYears": "JS art. 8", "agreementPolicy.whenUnremedied": "JS art. 26"}}},
		{opv1.RulebookJiangsu, want{3, 3, 30, 0, 180, 1095, "Continue", "Terminate", "Optional", operator,
			map[string]string{"logRetentionDays": "Cybersecurity Law art. 21 (national)", "recordRetentionDays": "JS is silent; PIPL art. 56 (national)"}}},
		{opv1.RulebookYancheng, want{3, 3, 30, 0, 180, 1095, "Continue", "Terminate", "Optional", operator,
			map[string]string{"logRetentionDays": "YC plan 九(一)3", "agreementPolicy.whenUnremedied": "YC art. 22, JS art. 26",
				"agreementPolicy.developerEvaluationMonths": "YC plan 八(四)1", "agreementPolicy.operatorEvaluationMonths": "YC art. 18, YC plan 八(四)3"}}},
		{opv1.RulebookYunnan, want{5, 3, 30, 0, 180, 1825, "Continue", "Reevaluate", "Required", operator,
			map[string]string{"agreementPolicy.maxOperatorTermYears": "YN art. 11(2)", "agreementPolicy.undertakings": "YN art. 25(1)",
				"recordRetentionDays": "YN art. 25(4)", "agreementPolicy.rawAssessments": "YN art. 25(3)", "agreementPolicy.whenUnremedied": "YN art. 26", "agreementPolicy.bars": "YN art. 21"}}},
		{opv1.RulebookHeilongjiang, want{3, 3, 30, 0, 730, 1095, "Continue", "Terminate", "Optional", operator,
			map[string]string{"logRetentionDays": "HLJ art. 29", "agreementPolicy.maxOperatorTermYears": "HLJ art. 14(2)"}}},
		{opv1.RulebookNanjing, want{3, 3, 30, 2, 180, 1095, "Continue", "Terminate", "Optional",
			[]opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive},
			map[string]string{"agreementPolicy.failedEvaluationsToEnd": "NJ 14", "products.reviewStages": "NJ 10"}}},
		{opv1.RulebookCustom, want{3, 3, 30, 0, 180, 1095, "Continue", "Terminate", "Optional", operator, nil}},
	} {
		t.Run(string(tc.book), func(t *testing.T) {
			g := NewWithT(t)
			p := Of(&opv1.OperationDomainSpec{Rulebook: tc.book})
			w := tc.want
			g.Expect([]int32{p.MaxOperatorTermYears, p.MaxDeveloperTermYears, p.RectificationDays, p.FailedEvaluationsToEnd, p.LogRetentionDays, p.RecordRetentionDays}).
				To(Equal([]int32{w.opTerm, w.devTerm, w.days, w.failures, w.logDays, w.recordDays}))
			g.Expect(p.DuringRectification).To(Equal(w.during))
			g.Expect(p.WhenUnremedied).To(Equal(w.unremedied))
			g.Expect(p.Undertakings).To(Equal(w.undertakings))
			g.Expect(p.RawAssessments).To(Equal(w.undertakings), "Yunnan requires both (YN art. 25(1), 25(3)), no other text either")
			g.Expect(p.Bars).To(Equal(opv1.BarProposed), "no text bars automatically")
			g.Expect(p.ReviewStages).To(Equal(w.stages))
			g.Expect(p.Values).To(HaveLen(15), "every setting is shown")
			for _, v := range p.Values {
				g.Expect(v.Source).NotTo(BeEmpty(), v.Name)
				if want, ok := w.sources[v.Name]; ok {
					g.Expect(v.Source).To(Equal(want), v.Name)
				}
			}
			g.Expect(p.Values).To(ContainElement(opv1.PolicyValue{Name: "persons.training", Value: "Required", Source: trainingSource}))
		})
	}
}

// TestR2_R6_OverridesOnlyTighten: a stricter value of the domain's own is in force and says
// so; a looser one (admission refuses it; this is the second line) leaves the rulebook's.
// Custom takes the domain's value either way.
func TestR2_R6_OverridesOnlyTighten(t *testing.T) {
	source := func(p Policy, name string) string {
		for _, v := range p.Values {
			if v.Name == name {
				return v.Source
			}
		}
		return ""
	}
	g := NewWithT(t)
	strict := opv1.OperationDomainSpec{Rulebook: opv1.RulebookYunnan, RecordRetentionDays: 2000,
		AgreementPolicy: opv1.AgreementPolicy{MaxOperatorTermYears: 2, WhenUnremedied: opv1.UnremediedTerminate,
			DuringRectification: opv1.RectificationSuspends, Bars: opv1.BarAutomatic, FailedEvaluationsToEnd: 3},
		Products: opv1.ProductPolicy{ReviewStages: []opv1.ReviewStage{opv1.StageTechnical, opv1.StageOperator}}}
	p := Of(&strict)
	g.Expect(p.MaxOperatorTermYears).To(Equal(int32(2)))
	g.Expect(p.RecordRetentionDays).To(Equal(int32(2000)))
	g.Expect(p.WhenUnremedied).To(Equal(opv1.UnremediedTerminate))
	g.Expect(p.DuringRectification).To(Equal(opv1.RectificationSuspends))
	g.Expect(p.Bars).To(Equal(opv1.BarAutomatic))
	g.Expect(p.FailedEvaluationsToEnd).To(Equal(int32(3)), "any number is stricter than never")
	g.Expect(p.ReviewStages).To(Equal([]opv1.ReviewStage{opv1.StageTechnical, opv1.StageOperator}))
	g.Expect(source(p, "agreementPolicy.maxOperatorTermYears")).To(Equal("domain (stricter than 5: YN art. 11(2))"))

	loose := opv1.OperationDomainSpec{Rulebook: opv1.RulebookNanjing, LogRetentionDays: 100, RecordRetentionDays: 200,
		AgreementPolicy: opv1.AgreementPolicy{MaxOperatorTermYears: 5, RectificationDays: 60, FailedEvaluationsToEnd: 4,
			WhenUnremedied: opv1.UnremediedReevaluate},
		Products: opv1.ProductPolicy{ReviewStages: []opv1.ReviewStage{opv1.StageComprehensive, opv1.StageTechnical}}}
	p = Of(&loose)
	g.Expect([]int32{p.MaxOperatorTermYears, p.RectificationDays, p.FailedEvaluationsToEnd, p.LogRetentionDays, p.RecordRetentionDays}).
		To(Equal([]int32{3, 30, 2, 180, 1095}))
	g.Expect(p.WhenUnremedied).To(Equal(opv1.UnremediedTerminate))
	g.Expect(p.ReviewStages).To(Equal([]opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive}), "the order is the rulebook's")
	g.Expect(source(p, "agreementPolicy.failedEvaluationsToEnd")).To(Equal("NJ 14 (the domain's looser 4 is not applied)"))

	loose.Rulebook = opv1.RulebookCustom
	p = Of(&loose)
	g.Expect([]int32{p.MaxOperatorTermYears, p.RectificationDays, p.FailedEvaluationsToEnd, p.LogRetentionDays, p.RecordRetentionDays}).
		To(Equal([]int32{5, 60, 4, 100, 200}))
	g.Expect(source(p, "agreementPolicy.rectificationDays")).To(HavePrefix("domain (Custom; the rulebook's is 30"))
}
