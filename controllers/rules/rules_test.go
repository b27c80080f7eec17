package rules

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func agreement(name string, role opv1.Role, code string, years int, resources ...string) opv1.Authorization {
	return opv1.Authorization{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: opv1.AuthorizationSpec{
			Role: role, Party: opv1.Party{CreditCode: code},
			Term:  opv1.Term{Start: metav1.NewTime(t0), End: metav1.NewTime(t0.AddDate(years, 0, 0))},
			Scope: opv1.Scope{Resources: resources},
		},
	}
}

// R2: the term limit counts calendar years, so a term across 29 February is still 3 years.
func TestR2_TermLimitIsInCalendarYears(t *testing.T) {
	g := NewWithT(t)
	policy := rulebook.Of(&opv1.OperationDomainSpec{AgreementPolicy: opv1.AgreementPolicy{MaxDeveloperTermYears: 2}})
	op := agreement("op", opv1.RoleOperator, "A", 3)
	g.Expect(TermTooLong(op.Spec, policy)).To(BeNil())
	op.Spec.Term.End = metav1.NewTime(op.Spec.Term.End.Add(time.Second))
	g.Expect(TermTooLong(op.Spec, policy)).To(HaveField("Reason", opv1.ReasonTermExceedsPolicy))
	dev := agreement("dev", opv1.RoleDeveloper, "B", 3)
	g.Expect(TermTooLong(dev.Spec, policy).String()).To(Equal(
		"spec.term.end: the term may last at most 2 years for Developer agreements in this domain (end <= start + 2 years; domain (stricter than 3: JS art. 8))"))
}

func TestR2_ParentBoundsItsChild(t *testing.T) {
	parent := agreement("op", opv1.RoleOperator, "A", 3, "traffic", "weather")
	ended := parent.DeepCopy()
	ended.Status.Phase = opv1.PhaseExpired
	developerParent := agreement("dev0", opv1.RoleDeveloper, "C", 3)
	for name, tc := range map[string]struct {
		child   opv1.Authorization
		parent  *opv1.Authorization
		field   string
		reason  string
		message string
	}{
		"fits":             {child: agreement("dev", opv1.RoleDeveloper, "B", 2, "traffic"), parent: &parent},
		"missing":          {child: agreement("dev", opv1.RoleDeveloper, "B", 2), field: "spec.parent", reason: opv1.ReasonParentNotFound, message: "not found"},
		"not an operator":  {child: agreement("dev", opv1.RoleDeveloper, "B", 2), parent: &developerParent, field: "spec.parent", reason: opv1.ReasonParentNotFound, message: "is a Developer agreement"},
		"ended":            {child: agreement("dev", opv1.RoleDeveloper, "B", 2), parent: ended, field: "spec.parent", reason: opv1.ReasonParentInactive, message: "has ended (Expired)"},
		"longer term":      {child: agreement("dev", opv1.RoleDeveloper, "B", 4), parent: &parent, field: "spec.term", reason: opv1.ReasonExceedsParent, message: "within the parent agreement's term"},
		"wider scope":      {child: agreement("dev", opv1.RoleDeveloper, "B", 2, "traffic", "hospital"), parent: &parent, field: "spec.scope.resources", reason: opv1.ReasonExceedsParent, message: "[hospital] are outside"},
		"same term, scope": {child: agreement("dev", opv1.RoleDeveloper, "B", 3, "traffic", "weather"), parent: &parent},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			v := Parent(tc.child.Spec, tc.parent)
			if tc.field == "" {
				g.Expect(v).To(BeNil())
				return
			}
			g.Expect(v).NotTo(BeNil())
			g.Expect(v.Field.String()).To(Equal(tc.field))
			g.Expect(v.Reason).To(Equal(tc.reason))
			g.Expect(v.Message).To(ContainSubstring(tc.message))
		})
	}
}

func TestR2_BarredParties(t *testing.T) {
	domain := &opv1.OperationDomain{Spec: opv1.OperationDomainSpec{
		NegativeList: []string{"hospital"},
		Blacklist:    []opv1.BlacklistEntry{{CreditCode: "BAD", Reason: "court order"}},
	}}
	domain.Status.Blacklist = []opv1.BlacklistEntry{{CreditCode: "BREACHED", Reason: "Breach of agreement x"}}
	operator := agreement("op", opv1.RoleOperator, "OP", 3)
	endedOperator := agreement("old-op", opv1.RoleOperator, "FORMER", 3)
	endedOperator.Status.Phase = opv1.PhaseTerminated
	peers := []opv1.Authorization{operator, endedOperator}
	for name, tc := range map[string]struct {
		a              opv1.Authorization
		reason, detail string
	}{
		"clean":                   {a: agreement("dev", opv1.RoleDeveloper, "OK", 1, "traffic")},
		"negative list":           {a: agreement("dev", opv1.RoleDeveloper, "OK", 1, "traffic", "hospital"), reason: opv1.ReasonNegativeListed, detail: "[hospital]"},
		"blacklisted by hand":     {a: agreement("dev", opv1.RoleDeveloper, "BAD", 1), reason: opv1.ReasonPartyBlacklisted, detail: "court order"},
		"blacklisted by an end":   {a: agreement("dev", opv1.RoleDeveloper, "BREACHED", 1), reason: opv1.ReasonPartyBlacklisted, detail: "Breach"},
		"operator as developer":   {a: agreement("dev", opv1.RoleDeveloper, "OP", 1), reason: opv1.ReasonRoleConflict, detail: "holds Operator agreement op"},
		"former operator is free": {a: agreement("dev", opv1.RoleDeveloper, "FORMER", 1)},
		"same role twice is fine": {a: agreement("op2", opv1.RoleOperator, "OP", 1)},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			v := Barred(&tc.a, domain, peers)
			if tc.reason == "" {
				g.Expect(v).To(BeNil())
				return
			}
			g.Expect(v).NotTo(BeNil())
			g.Expect(v.Reason).To(Equal(tc.reason))
			g.Expect(v.Message).To(ContainSubstring(tc.detail))
		})
	}
}

func TestR3_MembersAreTrainedUndertakenPersonsAndNoOperatorPersonDevelops(t *testing.T) {
	g := NewWithT(t)
	now := t0
	trained := metav1.NewTime(now.Add(-time.Hour))
	later := metav1.NewTime(now.Add(time.Hour))
	dev := agreement("dev", opv1.RoleDeveloper, "B", 1)
	dev.Spec.Persons = []opv1.Person{
		{User: "li", TrainedAt: &trained}, {User: "zhao"}, {User: "qian", TrainedAt: &later}, {User: "wang", TrainedAt: &trained},
	}
	op := agreement("op", opv1.RoleOperator, "A", 3)
	op.Spec.Persons = []opv1.Person{{User: "wang", TrainedAt: &trained}}
	operatorPersons := OperatorPersons([]opv1.Authorization{op, dev})
	g.Expect(operatorPersons).To(Equal(map[string]string{"wang": "op"}))

	g.Expect(MemberRefusal("li", &dev, operatorPersons, opv1.Optional, now)).To(BeEmpty())
	g.Expect(MemberRefusal("zhao", &dev, operatorPersons, opv1.Optional, now)).To(ContainSubstring("no security and compliance training"))
	g.Expect(MemberRefusal("qian", &dev, operatorPersons, opv1.Optional, now)).To(ContainSubstring("no security and compliance training"), "training in the future does not count")
	g.Expect(MemberRefusal("stranger", &dev, operatorPersons, opv1.Optional, now)).To(ContainSubstring("not a person of agreement dev"))
	g.Expect(MemberRefusal("wang", &dev, operatorPersons, opv1.Optional, now)).To(ContainSubstring("Operator agreement op"))
	g.Expect(MemberRefusal("wang", &op, operatorPersons, opv1.Optional, now)).To(BeEmpty(), "the operator entity does the first processing in its own workspaces")

	// YN art. 25(1): where the domain requires it, a signed confidentiality undertaking too.
	g.Expect(MemberRefusal("li", &dev, operatorPersons, opv1.Required, now)).To(ContainSubstring("no signed confidentiality undertaking"))
	dev.Spec.Persons[0].UndertakingSignedAt = &later
	g.Expect(MemberRefusal("li", &dev, operatorPersons, opv1.Required, now)).To(ContainSubstring("no signed confidentiality undertaking"), "signed in the future does not count")
	dev.Spec.Persons[0].UndertakingSignedAt = &trained
	g.Expect(MemberRefusal("li", &dev, operatorPersons, opv1.Required, now)).To(BeEmpty())
}

func TestR1_OneDomainPerNamespace(t *testing.T) {
	g := NewWithT(t)
	older := opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(t0)},
		Spec: opv1.OperationDomainSpec{ControlNamespace: "a-control", DataZoneNamespace: "shared"}}
	newer := opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "b", CreationTimestamp: metav1.NewTime(t0.Add(time.Second))},
		Spec: opv1.OperationDomainSpec{ControlNamespace: "shared", DataZoneNamespace: "b-data"}}
	all := []opv1.OperationDomain{older, newer}

	v := ClaimedNamespace(&newer, all, false)
	g.Expect(v).NotTo(BeNil())
	g.Expect(v.String()).To(Equal(`spec.controlNamespace: namespace "shared" already belongs to OperationDomain a: one domain per namespace (R1)`))
	g.Expect(ClaimedNamespace(&older, all, false)).NotTo(BeNil(), "at admission any claim counts")
	g.Expect(ClaimedNamespace(&older, all, true)).To(BeNil(), "in the reconciler the older claim wins")
	g.Expect(ClaimedNamespace(&newer, all, true)).NotTo(BeNil())

	twin := newer.DeepCopy()
	twin.Name, twin.CreationTimestamp = "c", older.CreationTimestamp
	g.Expect(ClaimedNamespace(&older, []opv1.OperationDomain{older, *twin}, true)).To(BeNil(), "a tie goes to the first name")
	g.Expect(ClaimedNamespace(twin, []opv1.OperationDomain{older, *twin}, true)).NotTo(BeNil())
}

func TestR4_LogsOnlyWhileAllDataIsSampled(t *testing.T) {
	g := NewWithT(t)
	grant := func(name string, phase opv1.GrantPhase, decision opv1.ReviewDecision, forms ...opv1.DataForm) opv1.DataGrant {
		gr := opv1.DataGrant{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: opv1.DataGrantStatus{Phase: phase},
			Spec: opv1.DataGrantSpec{Review: &opv1.Review{Decision: decision}}}
		for _, f := range forms {
			gr.Spec.Items = append(gr.Spec.Items, opv1.GrantItem{Form: f})
		}
		return gr
	}
	sample := grant("s", opv1.GrantActive, opv1.ReviewApproved, opv1.FormSample, opv1.FormDesensitized)
	ok, reason, _ := LogsReadable(nil)
	g.Expect(ok).To(BeFalse(), "no data, no logs")
	g.Expect(reason).To(Equal(opv1.ReasonNoData))
	ok, _, _ = LogsReadable([]opv1.DataGrant{sample})
	g.Expect(ok).To(BeTrue())
	ok, reason, msg := LogsReadable([]opv1.DataGrant{sample, grant("raw", opv1.GrantPending, opv1.ReviewApproved, opv1.FormSample, opv1.FormRaw)})
	g.Expect(ok).To(BeFalse(), "an approved Raw grant withdraws the right before it opens")
	g.Expect(reason).To(Equal(opv1.ReasonRawData))
	g.Expect(msg).To(ContainSubstring("grant raw"))
	ok, _, _ = LogsReadable([]opv1.DataGrant{sample, grant("raw", opv1.GrantExpired, opv1.ReviewApproved, opv1.FormRaw)})
	g.Expect(ok).To(BeTrue(), "an ended Raw grant no longer counts")
	ok, _, _ = LogsReadable([]opv1.DataGrant{sample, grant("raw", opv1.GrantPending, opv1.ReviewPending, opv1.FormRaw)})
	g.Expect(ok).To(BeTrue(), "an unapproved Raw request does not count yet")
}

func TestR4_ReviewerIsTheCaller(t *testing.T) {
	approved := &opv1.Review{Reviewer: "wang", Decision: opv1.ReviewApproved}
	for name, tc := range map[string]struct {
		old, review *opv1.Review
		caller      string
		mayReview   bool
		want        string
	}{
		"the reviewer, with the right":            {review: approved, caller: "wang", mayReview: true},
		"someone else typing the reviewer's name": {review: approved, caller: "admin", mayReview: true, want: "wang is not the caller (admin)"},
		"the reviewer without the right":          {review: approved, caller: "wang", want: "wang does not hold the reviewer right"},
		"an unchanged review needs no reviewer":   {old: approved, review: approved, caller: "operator"},
		"a withdrawn review needs no reviewer":    {old: approved, caller: "anyone"},
		"a changed decision is a new review":      {old: approved, review: &opv1.Review{Reviewer: "wang", Decision: opv1.ReviewRejected}, caller: "li", mayReview: true, want: "wang is not the caller (li)"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			v := ReviewerIsCaller(field.NewPath("spec", "review", "reviewer"), tc.old, tc.review, tc.caller, tc.mayReview, "verb review on datagrants")
			if tc.want == "" {
				g.Expect(v).To(BeNil())
				return
			}
			g.Expect(v).NotTo(BeNil())
			g.Expect(v.String()).To(And(HavePrefix("spec.review.reviewer: "), ContainSubstring(tc.want)))
			g.Expect(v.Reason).To(Equal(opv1.ReasonReviewerNotCaller))
		})
	}
}

// R2, R7: members may act only while the domain is not stopped and proves its fence, and their
// agreement and its parent are in force by phase and by their own words.
func TestR2_MembersMayActOnlyWhileEverythingAboveThemIsInForce(t *testing.T) {
	g := NewWithT(t)
	now := t0.AddDate(0, 1, 0)
	domain := func() *opv1.OperationDomain {
		return &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Status: opv1.OperationDomainStatus{
			Conditions: []metav1.Condition{{Type: opv1.ConditionAdmissionEnforced, Status: metav1.ConditionTrue}}}}
	}
	active := func(a opv1.Authorization) *opv1.Authorization {
		a.Status.Phase = opv1.PhaseActive
		return &a
	}
	op := active(agreement("op", opv1.RoleOperator, "A", 3))
	dev := active(agreement("dev", opv1.RoleDeveloper, "B", 2))
	dev.Spec.Parent = "op"
	ok, _, _ := MembersMayAct(domain(), dev, op, now)
	g.Expect(ok).To(BeTrue())
	ok, _, _ = MembersMayAct(domain(), op, nil, now)
	g.Expect(ok).To(BeTrue(), "an Operator agreement has no parent to ask")

	for name, tc := range map[string]struct {
		mutate func(d *opv1.OperationDomain, a, parent *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization)
		reason string
	}{
		"no domain": {func(_ *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			return nil, a, p
		}, opv1.ReasonDomainNotFound},
		"emergency stop": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			d.Spec.EmergencyStop.Active = true
			return d, a, p
		}, opv1.ReasonEmergencyStop},
		"fence not proven": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			d.Status.Conditions = nil
			return d, a, p
		}, opv1.ReasonAdmissionNotEnforced},
		"suspended before its phase says so": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			a.Spec.Suspension = &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk}
			return d, a, p
		}, opv1.ReasonAuthorizationInactive},
		"out of term": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			a.Spec.Term.End = metav1.NewTime(now)
			return d, a, p
		}, opv1.ReasonAuthorizationInactive},
		"parent missing": {func(d *opv1.OperationDomain, a, _ *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			return d, a, nil
		}, opv1.ReasonParentNotFound},
		"parent terminated, one hop": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			p.Spec.Termination = &opv1.Termination{Reason: opv1.EndBreach}
			return d, a, p
		}, opv1.ReasonParentInactive},
		"parent's phase": {func(d *opv1.OperationDomain, a, p *opv1.Authorization) (*opv1.OperationDomain, *opv1.Authorization, *opv1.Authorization) {
			p.Status.Phase = opv1.PhaseSuspended
			return d, a, p
		}, opv1.ReasonParentInactive},
	} {
		d, a, p := tc.mutate(domain(), dev.DeepCopy(), op.DeepCopy())
		ok, reason, msg := MembersMayAct(d, a, p, now)
		g.Expect(ok).To(BeFalse(), name)
		g.Expect(reason).To(Equal(tc.reason), name)
		g.Expect(msg).NotTo(BeEmpty(), name)
	}
}
