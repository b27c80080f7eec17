// Package rules holds the cross-object rules of R1–R3 as pure functions. The admission webhook
// refuses an object that breaks one; the reconcilers check the same functions again, because
// the world changes after admission (a party is blacklisted, a parent ends, a domain's policy
// tightens) and a webhook can be bypassed by whoever may edit webhook configurations.
package rules

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/rulebook"
)

// Violation is one broken rule: the field at fault, the condition reason the reconcilers
// report, and a message that says what the rule is.
type Violation struct {
	Field   *field.Path
	Reason  string
	Message string
}

func (v *Violation) String() string { return v.Field.String() + ": " + v.Message }

// FieldError is the violation as the API server reports invalid input.
func (v *Violation) FieldError() *field.Error { return field.Forbidden(v.Field, v.Message) }

var (
	specPath      = field.NewPath("spec")
	termEndPath   = specPath.Child("term", "end")
	creditCode    = specPath.Child("party", "creditCode")
	resourcesPath = specPath.Child("scope", "resources")
)

// TermTooLong checks the term against the domain's maximum for the role, counted in calendar
// years: end <= start + N years.
func TermTooLong(spec opv1.AuthorizationSpec, p rulebook.Policy) *Violation {
	years, setting := p.MaxDeveloperTermYears, "agreementPolicy.maxDeveloperTermYears"
	if spec.Role == opv1.RoleOperator {
		years, setting = p.MaxOperatorTermYears, "agreementPolicy.maxOperatorTermYears"
	}
	if !spec.Term.End.After(spec.Term.Start.AddDate(int(years), 0, 0)) {
		return nil
	}
	return &Violation{Field: termEndPath, Reason: opv1.ReasonTermExceedsPolicy,
		Message: fmt.Sprintf("the term may last at most %d years for %s agreements in this domain (end <= start + %d years; %s)", years, spec.Role, years, p.Source(setting))}
}

// ExceedsParent checks that a Developer agreement reaches no further than its Operator
// agreement, in term or in scope (R2).
func ExceedsParent(spec, parent opv1.AuthorizationSpec) *Violation {
	if spec.Term.Start.Before(&parent.Term.Start) || spec.Term.End.After(parent.Term.End.Time) {
		return &Violation{Field: specPath.Child("term"), Reason: opv1.ReasonExceedsParent,
			Message: fmt.Sprintf("[%s, %s) must lie within the parent agreement's term [%s, %s)",
				rfc3339(spec.Term.Start.Time), rfc3339(spec.Term.End.Time), rfc3339(parent.Term.Start.Time), rfc3339(parent.Term.End.Time))}
	}
	if outside := missingFrom(spec.Scope.Resources, parent.Scope.Resources); len(outside) > 0 {
		return &Violation{Field: resourcesPath, Reason: opv1.ReasonExceedsParent,
			Message: fmt.Sprintf("%v are outside the parent agreement's scope", outside)}
	}
	return nil
}

// Parent checks what a Developer agreement hangs under: it must exist, be an Operator
// agreement, not have ended, and bound the child's term and scope.
func Parent(spec opv1.AuthorizationSpec, parent *opv1.Authorization) *Violation {
	path := specPath.Child("parent")
	switch {
	case parent == nil:
		return &Violation{Field: path, Reason: opv1.ReasonParentNotFound,
			Message: fmt.Sprintf("Operator agreement %q not found in this namespace", spec.Parent)}
	case parent.Spec.Role != opv1.RoleOperator:
		return &Violation{Field: path, Reason: opv1.ReasonParentNotFound,
			Message: fmt.Sprintf("%q is a %s agreement; a Developer agreement hangs under an Operator agreement", spec.Parent, parent.Spec.Role)}
	case parent.Status.Phase.Ended():
		return &Violation{Field: path, Reason: opv1.ReasonParentInactive,
			Message: fmt.Sprintf("Operator agreement %q has ended (%s)", spec.Parent, parent.Status.Phase)}
	}
	return ExceedsParent(spec, parent.Spec)
}

// Barred says why a party may not get a new agreement in the domain: its scope names a
// resource on the negative list (YN art. 15), the party is blacklisted, or it holds an
// agreement of the other role, since an operator entity takes no part in developing what it
// delivers (YN art. 21, HLJ art. 20(1)).
func Barred(a *opv1.Authorization, domain *opv1.OperationDomain, peers []opv1.Authorization) *Violation {
	code := a.Spec.Party.CreditCode
	if domain != nil {
		if listed := intersection(a.Spec.Scope.Resources, domain.Spec.NegativeList); len(listed) > 0 {
			return &Violation{Field: resourcesPath, Reason: opv1.ReasonNegativeListed,
				Message: fmt.Sprintf("%v are on the domain's negative list and may never be authorized", listed)}
		}
		if e, ok := Blacklisted(code, domain); ok {
			return &Violation{Field: creditCode, Reason: opv1.ReasonPartyBlacklisted,
				Message: fmt.Sprintf("%s is on the domain's blacklist (%s) and may not get a new agreement", code, e.Reason)}
		}
	}
	for _, p := range peers {
		if p.Name != a.Name && p.Spec.Party.CreditCode == code && p.Spec.Role != a.Spec.Role && !p.Status.Phase.Ended() {
			return &Violation{Field: creditCode, Reason: opv1.ReasonRoleConflict,
				Message: fmt.Sprintf("%s holds %s agreement %s in this domain and may not also hold an agreement as %s",
					code, p.Spec.Role, p.Name, a.Spec.Role)}
		}
	}
	return nil
}

// Blacklisted finds the party on the domain's blacklist, written by hand or by an ending.
func Blacklisted(code string, domain *opv1.OperationDomain) (opv1.BlacklistEntry, bool) {
	for _, list := range [][]opv1.BlacklistEntry{domain.Spec.Blacklist, domain.Status.Blacklist} {
		if i := slices.IndexFunc(list, func(e opv1.BlacklistEntry) bool { return e.CreditCode == code }); i >= 0 {
			return list[i], true
		}
	}
	return opv1.BlacklistEntry{}, false
}

// OperatorPersons maps the people of the Operator agreements still in force to their
// agreement: none of them may work in a workspace under a Developer agreement.
func OperatorPersons(agreements []opv1.Authorization) map[string]string {
	persons := map[string]string{}
	for _, a := range agreements {
		if a.Spec.Role == opv1.RoleOperator && !a.Status.Phase.Ended() {
			for _, p := range a.Spec.Persons {
				persons[p.User] = a.Name
			}
		}
	}
	return persons
}

// MemberRefusal says why member may not work in a workspace under a: only trained persons of
// the agreement may (R3, NJ 6, stricter for everyone), who have signed the confidentiality
// undertaking where the domain requires it (YN art. 25(1)), and under a Developer agreement no
// person of an Operator agreement. It returns "" for an eligible member.
func MemberRefusal(member string, a *opv1.Authorization, operatorPersons map[string]string, undertakings opv1.Requirement, now time.Time) string {
	p, ok := a.PersonByUser(member)
	switch {
	case !ok:
		return fmt.Sprintf("%s is not a person of agreement %s", member, a.Name)
	case p.TrainedAt == nil || p.TrainedAt.After(now):
		return fmt.Sprintf("%s has no security and compliance training recorded in agreement %s", member, a.Name)
	case undertakings == opv1.Required && (p.UndertakingSignedAt == nil || p.UndertakingSignedAt.After(now)):
		return fmt.Sprintf("%s has no signed confidentiality undertaking recorded in agreement %s, which this domain requires (agreementPolicy.undertakings)", member, a.Name)
	case a.Spec.Role == opv1.RoleDeveloper && operatorPersons[member] != "":
		return fmt.Sprintf("%s is a person of Operator agreement %s, which takes no part in development", member, operatorPersons[member])
	}
	return ""
}

// CreditCode refuses a party's unified social credit code whose check character is not the one
// GB 32100-2015 computes: a mistyped code would bar, or fail to bar, the wrong entity.
func CreditCode(code string) *Violation {
	if opv1.ValidCreditCode(code) {
		return nil
	}
	return &Violation{Field: specPath.Child("party", "creditCode"), Reason: opv1.ReasonInvalidCreditCode,
		Message: fmt.Sprintf("%s is no unified social credit code: its check character is not the one GB 32100-2015 computes from the other seventeen", code)}
}

// ClaimedNamespace finds a namespace of d that one of others already claims, as control or
// data-zone namespace: one domain per scope (R1). When olderOnly, only claims older than d's
// count, so that of two domains created together exactly one wins.
func ClaimedNamespace(d *opv1.OperationDomain, others []opv1.OperationDomain, olderOnly bool) *Violation {
	for _, other := range others {
		if other.Name == d.Name {
			continue
		}
		if olderOnly && (other.CreationTimestamp.After(d.CreationTimestamp.Time) ||
			(other.CreationTimestamp.Equal(&d.CreationTimestamp) && other.Name > d.Name)) {
			continue
		}
		theirs := DomainNamespaces(&other)
		for _, mine := range []struct{ field, ns string }{
			{"controlNamespace", d.Spec.ControlNamespace}, {"dataZoneNamespace", d.Spec.DataZoneNamespace},
		} {
			if ns := mine.ns; slices.Contains(theirs, ns) {
				return &Violation{Field: specPath.Child(mine.field), Reason: opv1.ReasonNamespaceConflict,
					Message: fmt.Sprintf("namespace %q already belongs to OperationDomain %s: one domain per namespace (R1)", ns, other.Name)}
			}
		}
	}
	return nil
}

// DomainNamespaces are the namespaces a domain creates for itself: its control namespace, its
// data zone, its products' airlock and outbox, and the inbox of its imports.
func DomainNamespaces(d *opv1.OperationDomain) []string {
	return []string{d.Spec.ControlNamespace, d.Spec.DataZoneNamespace, names.Airlock(d.Name), names.Outbox(d.Name), names.Inbox(d.Name)}
}

func missingFrom(items, set []string) []string { return filter(items, set, false) }

func intersection(items, set []string) []string { return filter(items, set, true) }

func filter(items, set []string, inSet bool) []string {
	var out []string
	for _, i := range items {
		if slices.Contains(set, i) == inSet {
			out = append(out, i)
		}
	}
	return out
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// MembersMayAct says whether the members of an agreement's workspaces may hold access now, and
// if not, why: the domain is not stopped and proves its fence, and the agreement — and, for a
// Developer agreement, its Operator parent — is Active by its phase and by its own words
// (suspension, termination and term are read from the spec too, so the cut does not wait for the
// phase to catch up). parent is ignored for an Operator agreement.
func MembersMayAct(d *opv1.OperationDomain, a, parent *opv1.Authorization, now time.Time) (ok bool, reason, message string) {
	switch {
	case d == nil:
		return false, opv1.ReasonDomainNotFound, "no OperationDomain claims the agreement's namespace"
	case d.Spec.EmergencyStop.Active:
		return false, opv1.ReasonEmergencyStop, "domain emergency stop: " + d.Spec.EmergencyStop.Reason
	case !meta.IsStatusConditionTrue(d.Status.Conditions, opv1.ConditionAdmissionEnforced):
		// The fence must stand before anyone may act behind it.
		return false, opv1.ReasonAdmissionNotEnforced, fmt.Sprintf("the admission policy of domain %s is not proven in force (its condition AdmissionEnforced)", d.Name)
	case a == nil:
		return false, opv1.ReasonAuthorizationNotFound, "the agreement is not found"
	}
	if why := inForce(a, now); why != "" {
		return false, opv1.ReasonAuthorizationInactive, why
	}
	if a.Spec.Role == opv1.RoleDeveloper {
		if parent == nil {
			return false, opv1.ReasonParentNotFound, fmt.Sprintf("parent Authorization %q of %s is not found", a.Spec.Parent, a.Name)
		}
		if why := inForce(parent, now); why != "" {
			return false, opv1.ReasonParentInactive, "parent " + why
		}
	}
	return true, "", ""
}

// inForce says why an agreement is not in force now, or "" when it is.
func inForce(a *opv1.Authorization, now time.Time) string {
	switch {
	case a.Status.Phase != opv1.PhaseActive:
		phase := string(a.Status.Phase)
		if phase == "" {
			phase = "not yet evaluated"
		}
		return fmt.Sprintf("Authorization %s is %s", a.Name, phase)
	case a.Spec.Suspension != nil || a.Spec.Termination != nil || !a.Spec.Term.Contains(metav1.NewTime(now)):
		return fmt.Sprintf("Authorization %s is suspended, terminated or out of term", a.Name)
	}
	return ""
}
