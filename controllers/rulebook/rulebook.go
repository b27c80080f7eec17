// Package rulebook computes a domain's policy in force: the values its region's text decides
// (R2–R6), tightened by the domain's own, each with the article it comes from. Admission (CEL on
// OperationDomainSpec) refuses an override that loosens a rulebook's value; Of enforces the same
// here, so that a domain that slipped past admission still gets the rulebook's value.
package rulebook

import (
	"fmt"
	"slices"
	"strings"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Policy is a domain's policy in force.
type Policy struct {
	Rulebook                  opv1.Rulebook
	MaxOperatorTermYears      int32
	MaxDeveloperTermYears     int32
	RectificationDays         int32
	DuringRectification       opv1.DuringRectification
	WhenUnremedied            opv1.WhenUnremedied
	FailedEvaluationsToEnd    int32 // 0: no number of failures ends an agreement by itself
	DeveloperEvaluationMonths int32
	OperatorEvaluationMonths  int32
	Bars                      opv1.BarPolicy
	Undertakings              opv1.Requirement
	RawAssessments            opv1.Requirement
	LogRetentionDays          int32
	RecordRetentionDays       int32
	ReviewStages              []opv1.ReviewStage
	// Values are the settings as status.policy shows them, each with its source.
	Values []opv1.PolicyValue
}

// cited is a rulebook's value and the article it comes from.
type cited[T any] struct {
	v   T
	src string
}

func c[T any](v T, src string) cited[T] { return cited[T]{v, src} }

// book is one region's values.
type book struct {
	operatorTerm, developerTerm, rectificationDays cited[int32]
	during                                         cited[opv1.DuringRectification]
	unremedied                                     cited[opv1.WhenUnremedied]
	failuresToEnd, developerEvery, operatorEvery   cited[int32]
	bars                                           cited[opv1.BarPolicy]
	undertakings, rawAssessments                   cited[opv1.Requirement]
	logDays, recordDays                            cited[int32]
	stages                                         cited[[]opv1.ReviewStage]
}

// silent marks a value the region's text does not decide: the platform's choice, said so.
func silent(region, why string) string { return region + " is silent; " + why }

var jiangsu = book{
	operatorTerm:      c[int32](3, "JS art. 8"),
	developerTerm:     c[int32](3, "JS art. 8"),
	rectificationDays: c[int32](30, silent("JS", "YN art. 26's 30 days")),
	during:            c(opv1.RectificationContinues, silent("JS", "access is not cut before the period ends")),
	unremedied:        c(opv1.UnremediedTerminate, "JS art. 26"),
	failuresToEnd:     c[int32](0, silent("JS", "a failed evaluation warns")),
	developerEvery:    c[int32](6, silent("JS", "art. 27 says regularly; YC plan 八(四)1's 6 months")),
	operatorEvery:     c[int32](12, silent("JS", "art. 27 says regularly; YC's yearly")),
	bars:              c(opv1.BarProposed, silent("JS", "a bar is the authority's decision (as YN art. 21)")),
	undertakings:      c(opv1.Optional, silent("JS", "recorded when given")),
	rawAssessments:    c(opv1.Optional, silent("JS", "the grant's review weighs raw data")),
	logDays:           c[int32](180, "Cybersecurity Law art. 21 (national)"),
	recordDays:        c[int32](1095, silent("JS", "PIPL art. 56 (national)")),
	stages:            c([]opv1.ReviewStage{opv1.StageOperator}, "JS art. 18"),
}

// books are the rulebooks. Yancheng and Nanjing are cities of Jiangsu: Jiangsu's book with the
// city's own rules on top.
var books = map[opv1.Rulebook]book{
	opv1.RulebookJiangsu: jiangsu,
	opv1.RulebookYancheng: with(jiangsu, func(b *book) {
		b.operatorTerm = c[int32](3, "YC art. 6, JS art. 8")
		b.developerTerm = c[int32](3, "YC art. 6, JS art. 8")
		b.unremedied = c(opv1.UnremediedTerminate, "YC art. 22, JS art. 26")
		b.developerEvery = c[int32](6, "YC plan 八(四)1")
		b.operatorEvery = c[int32](12, "YC art. 18, YC plan 八(四)3")
		b.logDays = c[int32](180, "YC plan 九(一)3")
		b.stages = c([]opv1.ReviewStage{opv1.StageOperator}, "YC plan 五(四), JS art. 18")
	}),
	opv1.RulebookNanjing: with(jiangsu, func(b *book) {
		b.failuresToEnd = c[int32](2, "NJ 14")
		b.operatorEvery = c[int32](12, "NJ 14")
		b.stages = c([]opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive}, "NJ 10")
	}),
	opv1.RulebookYunnan: {
		operatorTerm:      c[int32](5, "YN art. 11(2)"),
		developerTerm:     c[int32](3, "YN art. 13(4)"),
		rectificationDays: c[int32](30, "YN art. 26"),
		during:            c(opv1.RectificationContinues, "YN art. 26"),
		unremedied:        c(opv1.UnremediedReevaluate, "YN art. 26"),
		failuresToEnd:     c[int32](0, silent("YN", "a failed evaluation warns (art. 26)")),
		developerEvery:    c[int32](6, silent("YN", "art. 26 says regularly; YC plan 八(四)1's 6 months")),
		operatorEvery:     c[int32](12, silent("YN", "art. 26 says regularly; YC's yearly")),
		bars:              c(opv1.BarProposed, "YN art. 21"),
		undertakings:      c(opv1.Required, "YN art. 25(1)"),
		rawAssessments:    c(opv1.Required, "YN art. 25(3)"),
		logDays:           c[int32](180, "Cybersecurity Law art. 21 (national)"),
		recordDays:        c[int32](1825, "YN art. 25(4)"),
		stages:            c([]opv1.ReviewStage{opv1.StageOperator}, "YN art. 22"),
	},
	opv1.RulebookHeilongjiang: {
		operatorTerm:      c[int32](3, "HLJ art. 14(2)"),
		developerTerm:     c[int32](3, silent("HLJ", "the other texts' 3 years")),
		rectificationDays: c[int32](30, silent("HLJ", "YN art. 26's 30 days")),
		during:            c(opv1.RectificationContinues, silent("HLJ", "access is not cut before the period ends")),
		unremedied:        c(opv1.UnremediedTerminate, "HLJ art. 29–30"),
		failuresToEnd:     c[int32](0, silent("HLJ", "a failed evaluation warns")),
		developerEvery:    c[int32](6, silent("HLJ", "art. 28 says regularly; YC plan 八(四)1's 6 months")),
		operatorEvery:     c[int32](12, silent("HLJ", "art. 28 says regularly; YC's yearly")),
		bars:              c(opv1.BarProposed, silent("HLJ", "a bar is the authority's decision (as YN art. 21)")),
		undertakings:      c(opv1.Optional, silent("HLJ", "recorded when given")),
		rawAssessments:    c(opv1.Optional, silent("HLJ", "the grant's review weighs raw data")),
		logDays:           c[int32](730, "HLJ art. 29"),
		recordDays:        c[int32](1095, silent("HLJ", "PIPL art. 56 (national)")),
		stages:            c([]opv1.ReviewStage{opv1.StageOperator}, "HLJ art. 20(3)"),
	},
	opv1.RulebookCustom: jiangsu,
}

func with(b book, change func(*book)) book {
	b.stages.v = slices.Clone(b.stages.v)
	change(&b)
	return b
}

// trainingSource says why training gates access under every rulebook.
const trainingSource = "platform: NJ 6 trains the operator unit's staff; opdomain requires a recorded training of everyone (stricter)"

// Of is the policy in force in a domain. A domain that names no rulebook follows Jiangsu's.
func Of(spec *opv1.OperationDomainSpec) Policy {
	name := spec.Rulebook
	if _, ok := books[name]; !ok {
		name = opv1.RulebookJiangsu
	}
	b := books[name]
	m := merge{custom: name == opv1.RulebookCustom}
	ap := spec.AgreementPolicy
	p := Policy{Rulebook: name}
	p.MaxOperatorTermYears = tighter(&m, "agreementPolicy.maxOperatorTermYears", b.operatorTerm, ap.MaxOperatorTermYears, atMost)
	p.MaxDeveloperTermYears = tighter(&m, "agreementPolicy.maxDeveloperTermYears", b.developerTerm, ap.MaxDeveloperTermYears, atMost)
	p.RectificationDays = tighter(&m, "agreementPolicy.rectificationDays", b.rectificationDays, ap.RectificationDays, atMost)
	p.DuringRectification = tighter(&m, "agreementPolicy.duringRectification", b.during, ap.DuringRectification,
		ranked(opv1.RectificationContinues, opv1.RectificationSuspends))
	p.WhenUnremedied = tighter(&m, "agreementPolicy.whenUnremedied", b.unremedied, ap.WhenUnremedied,
		ranked(opv1.UnremediedReevaluate, opv1.UnremediedTerminate))
	p.FailedEvaluationsToEnd = tighter(&m, "agreementPolicy.failedEvaluationsToEnd", b.failuresToEnd, ap.FailedEvaluationsToEnd, fewerFailures)
	if p.FailedEvaluationsToEnd == 0 {
		m.values[len(m.values)-1].Value = "none"
	}
	p.DeveloperEvaluationMonths = tighter(&m, "agreementPolicy.developerEvaluationMonths", b.developerEvery, ap.DeveloperEvaluationMonths, atMost)
	p.OperatorEvaluationMonths = tighter(&m, "agreementPolicy.operatorEvaluationMonths", b.operatorEvery, ap.OperatorEvaluationMonths, atMost)
	p.Bars = tighter(&m, "agreementPolicy.bars", b.bars, ap.Bars, ranked(opv1.BarProposed, opv1.BarAutomatic))
	p.Undertakings = tighter(&m, "agreementPolicy.undertakings", b.undertakings, ap.Undertakings,
		ranked(opv1.Optional, opv1.Required))
	p.RawAssessments = tighter(&m, "agreementPolicy.rawAssessments", b.rawAssessments, ap.RawAssessments,
		ranked(opv1.Optional, opv1.Required))
	m.add("persons.training", "Required", trainingSource)
	p.LogRetentionDays = tighter(&m, "logRetentionDays", b.logDays, spec.LogRetentionDays, atLeast)
	p.RecordRetentionDays = tighter(&m, "recordRetentionDays", b.recordDays, spec.RecordRetentionDays, atLeast)
	p.ReviewStages = tighterList(&m, "products.reviewStages", b.stages, spec.Products.ReviewStages)
	p.Values = m.values
	return p
}

// Source is the article or choice a setting's value in force comes from.
func (p Policy) Source(name string) string {
	for _, v := range p.Values {
		if v.Name == name {
			return v.Source
		}
	}
	return ""
}

// merge collects the values in force as status shows them.
type merge struct {
	custom bool
	values []opv1.PolicyValue
}

func (m *merge) add(name, value, source string) {
	m.values = append(m.values, opv1.PolicyValue{Name: name, Value: value, Source: source})
}

// tighter takes the domain's value where it is set and at least as strict as the rulebook's
// (any value under Custom); otherwise the rulebook's. The zero value means unset.
func tighter[T comparable](m *merge, name string, base cited[T], own T, stricter func(own, base T) bool) T {
	var unset T
	v, src := base.v, base.src
	switch {
	case own == unset || own == base.v:
	case m.custom:
		v, src = own, fmt.Sprintf("domain (Custom; the rulebook's is %v: %s)", base.v, base.src)
	case stricter(own, base.v):
		v, src = own, fmt.Sprintf("domain (stricter than %v: %s)", base.v, base.src)
	default:
		src = fmt.Sprintf("%s (the domain's looser %v is not applied)", base.src, own)
	}
	m.add(name, fmt.Sprint(v), src)
	return v
}

// tighterList is tighter for review stages: a list of the domain's own must keep every stage of
// the rulebook's, in the rulebook's order.
func tighterList(m *merge, name string, base cited[[]opv1.ReviewStage], own []opv1.ReviewStage) []opv1.ReviewStage {
	v, src := base.v, base.src
	switch {
	case len(own) == 0 || slices.Equal(own, base.v):
	case m.custom:
		v, src = own, fmt.Sprintf("domain (Custom; the rulebook's is %s: %s)", join(base.v), base.src)
	case keepsInOrder(own, base.v):
		v, src = own, fmt.Sprintf("domain (stricter than %s: %s)", join(base.v), base.src)
	default:
		src = fmt.Sprintf("%s (the domain's looser %s is not applied)", base.src, join(own))
	}
	m.add(name, join(v), src)
	return slices.Clone(v)
}

func atMost(own, base int32) bool  { return own <= base }
func atLeast(own, base int32) bool { return own >= base }

// fewerFailures: ending on fewer failures is stricter; 0 (never) is the loosest.
func fewerFailures(own, base int32) bool { return base == 0 || own <= base }

// ranked orders an enum's values from loosest to strictest.
func ranked[T comparable](loosest ...T) func(own, base T) bool {
	return func(own, base T) bool { return slices.Index(loosest, own) >= slices.Index(loosest, base) }
}

// keepsInOrder says whether own holds every stage of base, in base's order.
func keepsInOrder(own, base []opv1.ReviewStage) bool {
	at := -1
	for _, s := range base {
		i := slices.Index(own, s)
		if i <= at {
			return false
		}
		at = i
	}
	return true
}

func join(stages []opv1.ReviewStage) string {
	s := make([]string, len(stages))
	for i, st := range stages {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}
