package rules

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rulebook"
)

// GrantWorld is what a grant's rules are checked against. Nil members were not found.
type GrantWorld struct {
	Domain    *opv1.OperationDomain
	Agreement *opv1.Authorization
	Workspace *opv1.DeveloperWorkspace
	// Resources are the catalog entries the grant names, by name.
	Resources map[string]*opv1.DataResource
	// PartyPersons are the cluster identities of every person the developer party names in any
	// of its agreements in the domain.
	PartyPersons []string
}

// Grant checks one scenario, one list, one review (R4): a scenario the agreement covers, when it
// lists any; every item names a resource of the agreement's scope that is in the catalog and off
// the negative list, with fields it has, in a form its level and its fields' sensitivity allow;
// consent where personal information or trade secrets are involved; a
// term inside the agreement's; the agreement's own workspace; and reviewers who are neither the
// requester nor persons of the party, with provider reviews only of an operator's own grant, by
// providers of its resources, other than its authority reviewer.
func Grant(g *opv1.DataGrant, w GrantWorld) []*Violation {
	spec := field.NewPath("spec")
	if w.Agreement == nil {
		return []*Violation{{Field: spec.Child("authorization"), Reason: opv1.ReasonAuthorizationNotFound,
			Message: fmt.Sprintf("agreement %q not found in this namespace", g.Spec.Authorization)}}
	}
	var out []*Violation
	add := func(path *field.Path, reason, format string, args ...any) {
		out = append(out, &Violation{Field: path, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	needsConsent := ""
	for i, item := range g.Spec.Items {
		path := spec.Child("items").Index(i)
		res := w.Resources[item.Resource]
		switch {
		case !slices.Contains(w.Agreement.Spec.Scope.Resources, item.Resource):
			add(path.Child("resource"), opv1.ReasonOutsideScope, "%s is outside the scope of agreement %s", item.Resource, w.Agreement.Name)
			continue
		case w.Domain != nil && slices.Contains(w.Domain.Spec.NegativeList, item.Resource):
			add(path.Child("resource"), opv1.ReasonNegativeListed, "%s is on the domain's negative list and may never be granted", item.Resource)
			continue
		case res == nil:
			add(path.Child("resource"), opv1.ReasonSourceNotFound, "DataResource %s not found in the catalog", item.Resource)
			continue
		}
		for j, f := range item.Fields {
			i := slices.IndexFunc(res.Spec.Fields, func(rf opv1.Field) bool { return rf.Name == f })
			switch {
			case i < 0:
				add(path.Child("fields").Index(j), opv1.ReasonUnknownField, "%s has no field %q", item.Resource, f)
			case res.Spec.Fields[i].Sensitive && item.Form != opv1.FormDesensitized:
				add(path.Child("fields").Index(j), opv1.ReasonFormNotAllowed,
					"%s.%s is marked sensitive in the catalog: it is granted only Desensitized, not %s (YC plan 五(一)3)", item.Resource, f, item.Form)
			}
		}
		if item.Form != opv1.FormDesensitized && res.Spec.Level >= 3 {
			add(path.Child("form"), opv1.ReasonFormNotAllowed,
				"%s is classified level %d: level 3 and above is granted only Desensitized, never %s — a raw sample is still raw (NJ 7)", item.Resource, res.Spec.Level, item.Form)
		}
		if needsConsent == "" && (res.Spec.PersonalInformation || res.Spec.TradeSecret) {
			needsConsent = item.Resource
		}
	}
	if scenarios := w.Agreement.Spec.Scope.Scenarios; len(scenarios) > 0 && !slices.Contains(scenarios, g.Spec.Scenario.Name) {
		add(spec.Child("scenario", "name"), opv1.ReasonOutsideScope, "%q is not a scenario agreement %s covers (%s): a grant names an agreed scenario (JS art. 13(3))",
			g.Spec.Scenario.Name, w.Agreement.Name, strings.Join(scenarios, ", "))
	}
	if rawNeedsAssessment(g, w) {
		add(spec.Child("securityAssessment"), opv1.ReasonAssessmentMissing,
			"a developer's grant of Raw data is approved only with the operator entity's security assessment recorded (YN art. 25(3))")
	}
	if needsConsent != "" && g.Spec.Consent.Reference == "" {
		add(spec.Child("consent", "reference"), opv1.ReasonConsentMissing,
			"%s holds personal information or trade secrets: the consent evidence must be referenced", needsConsent)
	}
	at := w.Agreement.Spec.Term
	if g.Spec.Term.Start.Before(&at.Start) || g.Spec.Term.End.After(at.End.Time) {
		add(spec.Child("term"), opv1.ReasonExceedsParent, "[%s, %s) must lie within the term of agreement %s [%s, %s)",
			rfc3339(g.Spec.Term.Start.Time), rfc3339(g.Spec.Term.End.Time), w.Agreement.Name, rfc3339(at.Start.Time), rfc3339(at.End.Time))
	}
	switch {
	case w.Workspace == nil:
		add(spec.Child("workspace"), opv1.ReasonWorkspaceMismatch, "DeveloperWorkspace %q not found in this namespace", g.Spec.Workspace)
	case w.Workspace.Spec.Authorization != w.Agreement.Name:
		add(spec.Child("workspace"), opv1.ReasonWorkspaceMismatch, "DeveloperWorkspace %s belongs to agreement %s, not %s",
			w.Workspace.Name, w.Workspace.Spec.Authorization, w.Agreement.Name)
	}
	independent := func(path *field.Path, reviewer string) {
		switch {
		case reviewer == g.Spec.RequestedBy:
			add(path, opv1.ReasonReviewNotIndependent, "%s requested the grant and may not review it (two-person rule)", reviewer)
		case slices.Contains(w.PartyPersons, reviewer):
			add(path, opv1.ReasonReviewNotIndependent, "%s is a person of the party the grant is for and may not review it (two-person rule)", reviewer)
		}
	}
	if r := g.Spec.Review; r != nil {
		independent(spec.Child("review", "reviewer"), r.Reviewer)
	}
	if a := g.Spec.SecurityAssessment; a != nil {
		independent(spec.Child("securityAssessment", "assessor"), a.Assessor)
	}
	for i, r := range g.Spec.ProviderReviews {
		path := spec.Child("providerReviews").Index(i)
		switch {
		case !OperatorGrant(w):
			add(path, opv1.ReasonReviewNotIndependent, "a Developer agreement's grant is reviewed by the operator entity alone (JS art. 17): no provider review")
		case len(ProvidedBy(r.Provider, g, w.Resources)) == 0:
			add(path.Child("provider"), opv1.ReasonReviewNotIndependent, "%q provides none of the grant's resources", r.Provider)
		case g.Spec.Review != nil && g.Spec.Review.Reviewer == r.Reviewer:
			add(path.Child("reviewer"), opv1.ReasonReviewNotIndependent, "%s reviewed the grant for the authority: a provider's review is another person's (YN art. 20)", r.Reviewer)
		default:
			independent(path.Child("reviewer"), r.Reviewer)
		}
	}
	return out
}

// rawNeedsAssessment says whether an approved grant lacks the security assessment its Raw data
// needs: a Developer agreement's grant, in a domain whose policy requires one (YN art. 25(3)).
func rawNeedsAssessment(g *opv1.DataGrant, w GrantWorld) bool {
	return approved(g) && HasRaw(g) && g.Spec.SecurityAssessment == nil && w.Agreement.Spec.Role == opv1.RoleDeveloper &&
		w.Domain != nil && rulebook.Of(&w.Domain.Spec).RawAssessments == opv1.Required
}

// ReviewGiven says whether a request sets or changes a review. Withdrawing one leaves the
// object inert and needs no reviewer.
func ReviewGiven(old, review *opv1.Review) bool {
	return review != nil && (old == nil || !equality.Semantic.DeepEqual(*old, *review))
}

// ReviewerIsCaller checks that a review given by a request names its authenticated caller, and
// that the caller holds the right the review needs, which right describes (R4: a reviewer is
// the caller, never a name typed into a field). path is the review's reviewer field.
func ReviewerIsCaller(path *field.Path, old, review *opv1.Review, caller string, mayReview bool, right string) *Violation {
	if !ReviewGiven(old, review) {
		return nil
	}
	return signedBy(path, "a review", "reviewer", review.Reviewer, caller, mayReview, right)
}

// AssessorIsCaller is ReviewerIsCaller for a security assessment a request records or changes
// (YN art. 25(3)): the operator entity's reviewer, as themselves.
func AssessorIsCaller(old, assessment *opv1.SecurityAssessment, caller string, mayReview bool) *Violation {
	if assessment == nil || (old != nil && equality.Semantic.DeepEqual(*old, *assessment)) {
		return nil
	}
	return signedBy(field.NewPath("spec", "securityAssessment", "assessor"), "an assessment", "assessor", assessment.Assessor, caller, mayReview,
		"verb review on datagrants, the operator entity's")
}

// signedBy checks that what, recorded in the name of named (the who), comes from the caller,
// who holds right.
func signedBy(path *field.Path, what, who, named, caller string, mayReview bool, right string) *Violation {
	switch {
	case named != caller:
		return &Violation{Field: path, Reason: opv1.ReasonReviewerNotCaller,
			Message: fmt.Sprintf("%s is not the caller (%s): %s is given only by the %s, signed in as themselves", named, caller, what, who)}
	case !mayReview:
		return &Violation{Field: path, Reason: opv1.ReasonReviewerNotCaller,
			Message: fmt.Sprintf("%s does not hold the reviewer right: %s", caller, right)}
	}
	return nil
}

// OperatorGrant says whether a grant is the operator entity's own, under an Operator agreement:
// the authority and the data providers review it (YN art. 20, HLJ art. 18, NJ 7).
func OperatorGrant(w GrantWorld) bool {
	return w.Agreement != nil && w.Agreement.Spec.Role == opv1.RoleOperator
}

// ProvidedBy lists the grant's resources the provider provides, in the items' order.
func ProvidedBy(provider string, g *opv1.DataGrant, resources map[string]*opv1.DataResource) []string {
	var out []string
	for _, item := range g.Spec.Items {
		if res := resources[item.Resource]; res != nil && res.Spec.Provider == provider {
			out = append(out, item.Resource)
		}
	}
	return out
}

// ProviderReviewsOutstanding says, for an operator's own grant, which provider review rejected
// it, if any, and which providers of its resources have not approved it yet.
func ProviderReviewsOutstanding(g *opv1.DataGrant, resources map[string]*opv1.DataResource) (rejected *opv1.ProviderReview, missing []string) {
	for _, item := range g.Spec.Items {
		res := resources[item.Resource]
		if res == nil || slices.Contains(missing, res.Spec.Provider) {
			continue
		}
		i := slices.IndexFunc(g.Spec.ProviderReviews, func(r opv1.ProviderReview) bool { return r.Provider == res.Spec.Provider })
		switch {
		case i >= 0 && g.Spec.ProviderReviews[i].Decision == opv1.ReviewRejected:
			return &g.Spec.ProviderReviews[i], nil
		case i < 0 || g.Spec.ProviderReviews[i].Decision != opv1.ReviewApproved:
			missing = append(missing, res.Spec.Provider)
		}
	}
	return nil, missing
}

// PartyPersons lists the persons of every agreement held by the party in the domain.
func PartyPersons(creditCode string, agreements []opv1.Authorization) []string {
	var out []string
	for _, a := range agreements {
		if a.Spec.Party.CreditCode == creditCode {
			for _, p := range a.Spec.Persons {
				out = append(out, p.User)
			}
		}
	}
	return out
}

// LogsReadable says whether a workspace's members may read pod logs, given its grants: only
// while it holds data and all of it comes as samples or desensitized (YC plan 五(三)2). A grant
// with a Raw item withdraws the right as soon as it is approved, before its path opens.
func LogsReadable(grants []opv1.DataGrant) (bool, string, string) {
	active := 0
	for _, g := range grants {
		if g.Status.Phase.Ended() || !approved(&g) {
			continue
		}
		if HasRaw(&g) {
			return false, opv1.ReasonRawData, fmt.Sprintf("grant %s delivers Raw data: pod logs are withheld", g.Name)
		}
		if g.Status.Phase == opv1.GrantActive {
			active++
		}
	}
	if active == 0 {
		return false, opv1.ReasonNoData, "no Active grant: pod logs are withheld"
	}
	return true, opv1.ReasonSampledData, fmt.Sprintf("%d Active grant(s), all Sample or Desensitized", active)
}

// RawApproved names a grant of a workspace that was approved to deliver Raw data, whatever
// became of it since, or "" when there is none. Such a workspace is sealed for good: copies of
// the data may sit on its volumes after the grant ends (ConditionSealed).
func RawApproved(grants []opv1.DataGrant) string {
	for _, g := range grants {
		if HasRaw(&g) && approved(&g) {
			return g.Name
		}
	}
	return ""
}

// approved says whether a grant's review approved it.
func approved(g *opv1.DataGrant) bool {
	return g.Spec.Review != nil && g.Spec.Review.Decision == opv1.ReviewApproved
}

// HasRaw says whether a grant delivers any item in Raw form.
func HasRaw(g *opv1.DataGrant) bool {
	return slices.ContainsFunc(g.Spec.Items, func(i opv1.GrantItem) bool { return i.Form == opv1.FormRaw })
}
