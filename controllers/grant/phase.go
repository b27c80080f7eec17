// Package grant reconciles DataGrants (R4): a grant opens its data path only while it is
// approved, in term, its agreement active, its domain not stopped and its resources offered,
// and closes it the moment any of that stops being true.
package grant

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rules"
)

// Inputs is everything a grant's phase depends on.
type Inputs struct {
	Grant *opv1.DataGrant
	World rules.GrantWorld
	Now   time.Time
	// CiliumServed says whether the cluster serves CiliumNetworkPolicy.
	CiliumServed bool
}

// Outcome is the phase, why, and when it may change by the clock alone.
type Outcome struct {
	Phase           opv1.GrantPhase
	Reason, Message string
	Next            time.Time
}

// Evaluate computes the phase. Revoked and Expired are final.
func Evaluate(in Inputs) Outcome {
	g, w := in.Grant, in.World
	if prev := g.Status.Phase; prev.Ended() {
		// Why it ended stays on record.
		if c := meta.FindStatusCondition(g.Status.Conditions, opv1.ConditionReady); c != nil {
			return Outcome{Phase: prev, Reason: c.Reason, Message: c.Message}
		}
		return Outcome{Phase: prev, Reason: string(prev), Message: "the grant has ended"}
	}
	// Once a path has been open, anything that forbids it revokes the grant for good; before,
	// the grant merely waits.
	wasOpen := g.Status.Phase == opv1.GrantActive || g.Status.Phase == opv1.GrantSuspended
	stop := func(reason, msg string) Outcome {
		if wasOpen {
			return Outcome{Phase: opv1.GrantRevoked, Reason: reason, Message: msg}
		}
		return Outcome{Phase: opv1.GrantPending, Reason: reason, Message: msg, Next: g.Spec.Term.End.Time}
	}
	if !in.Now.Before(g.Spec.Term.End.Time) {
		return Outcome{Phase: opv1.GrantExpired, Reason: opv1.ReasonNotInTerm, Message: "term ended at " + g.Spec.Term.End.UTC().Format(time.RFC3339)}
	}
	if a := w.Agreement; a != nil && a.Status.Phase.Ended() {
		return Outcome{Phase: opv1.GrantRevoked, Reason: opv1.ReasonAgreementEnded, Message: fmt.Sprintf("agreement %s has ended (%s)", a.Name, a.Status.Phase)}
	}
	if ws := w.Workspace; ws != nil && (ws.DeletionTimestamp != nil || ws.Status.Teardown != nil) {
		return Outcome{Phase: opv1.GrantRevoked, Reason: opv1.ReasonWorkspaceGone, Message: fmt.Sprintf("workspace %s is being torn down", ws.Name)}
	}
	switch r := g.Spec.Review; {
	case r != nil && r.Decision == opv1.ReviewRejected:
		return Outcome{Phase: opv1.GrantRevoked, Reason: opv1.ReasonReviewRejected, Message: fmt.Sprintf("rejected by %s: %s", r.Reviewer, r.Comment)}
	case r == nil || r.Decision != opv1.ReviewApproved:
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonAwaitingReview, Message: "inert until spec.review.decision is Approved", Next: g.Spec.Term.End.Time}
	}
	if rules.OperatorGrant(w) {
		switch rejected, missing := rules.ProviderReviewsOutstanding(g, w.Resources); {
		case rejected != nil:
			return Outcome{Phase: opv1.GrantRevoked, Reason: opv1.ReasonReviewRejected,
				Message: fmt.Sprintf("rejected for provider %s by %s: %s", rejected.Provider, rejected.Reviewer, rejected.Comment)}
		case len(missing) > 0:
			return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonAwaitingReview, Next: g.Spec.Term.End.Time,
				Message: fmt.Sprintf("inert until the providers %s approve too (spec.providerReviews): an operator's own grant is reviewed by the authority and the data providers (YN art. 20, HLJ art. 18, NJ 7)", strings.Join(missing, ", "))}
		}
	}
	if v := rules.Grant(g, w); len(v) > 0 {
		return stop(v[0].Reason, v[0].String())
	}
	if in.Now.Before(g.Spec.Term.Start.Time) {
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonNotInTerm, Message: "term starts at " + g.Spec.Term.Start.UTC().Format(time.RFC3339), Next: g.Spec.Term.Start.Time}
	}
	suspended := func(reason, msg string) Outcome {
		return Outcome{Phase: opv1.GrantSuspended, Reason: reason, Message: msg, Next: g.Spec.Term.End.Time}
	}
	if d := w.Domain; d != nil && d.Spec.EmergencyStop.Active {
		return suspended(opv1.ReasonEmergencyStop, "the domain's emergency stop is active: "+d.Spec.EmergencyStop.Reason)
	}
	if d := w.Domain; d != nil && d.Spec.NetworkPolicy.Cilium() && !in.CiliumServed {
		// The domain's workspaces are closed for the same reason: never open half a path.
		return suspended(opv1.ReasonApplyFailed, "the domain asks for Cilium but the cluster does not serve CiliumNetworkPolicy")
	}
	switch a := w.Agreement; a.Status.Phase {
	case opv1.PhaseActive:
	case opv1.PhaseSuspended:
		return suspended(opv1.ReasonAuthorizationInactive, fmt.Sprintf("agreement %s is suspended", a.Name))
	default:
		if wasOpen {
			return suspended(opv1.ReasonAuthorizationInactive, fmt.Sprintf("agreement %s is %s", a.Name, a.Status.Phase))
		}
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonAuthorizationInactive,
			Message: fmt.Sprintf("agreement %s is not active", a.Name), Next: g.Spec.Term.End.Time}
	}
	if w.Workspace.Status.Namespace == "" {
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonProgressing, Message: "the workspace has no namespace yet", Next: g.Spec.Term.End.Time}
	}
	for _, item := range g.Spec.Items {
		if res := w.Resources[item.Resource]; !res.Status.Offerable {
			return suspended(opv1.ReasonSourceNotFound, fmt.Sprintf("DataResource %s is not offerable", res.Name))
		}
	}
	if d := w.Domain; d != nil && rules.HasRaw(g) && !d.Status.DNS.Contained {
		msg := "Raw data waits until the DNS of domain " + d.Name + " is contained (its condition DNSContained says why not)"
		if wasOpen {
			return suspended(opv1.ReasonDNSNotContained, msg)
		}
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonDNSNotContained, Message: msg, Next: g.Spec.Term.End.Time}
	}
	if rules.HasRaw(g) && !meta.IsStatusConditionTrue(w.Workspace.Status.Conditions, opv1.ConditionSealed) {
		// Raw data flows only once members see nothing a workload writes (no logs, no status).
		return Outcome{Phase: opv1.GrantPending, Reason: opv1.ReasonRawData, Message: "waiting for the workspace to be sealed", Next: g.Spec.Term.End.Time}
	}
	return Outcome{Phase: opv1.GrantActive, Reason: opv1.ReasonReconciled, Message: "data path open", Next: g.Spec.Term.End.Time}
}
