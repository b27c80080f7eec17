// Package product is the export airlock (R5): a DataProduct is sealed by the operator, checked,
// reviewed stage by stage against the digest the operator computed, published into the domain's
// outbox, and delisted when its agreement or grants end. phase.go decides where a product stands
// as a pure function of what the reconciler observed.
package product

import (
	"fmt"
	"slices"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/airlock"
)

// Reasons a product's phase gives.
const (
	ReasonSealing            = "Sealing"
	ReasonSealFailed         = "SealFailed"
	ReasonChecking           = "Checking"
	ReasonChecksFailed       = "ChecksFailed"
	ReasonAwaitingReview     = "AwaitingReview"
	ReasonChangesRequested   = "ChangesRequested"
	ReasonRejected           = "Rejected"
	ReasonPublishing         = "Publishing"
	ReasonPublished          = "Published"
	ReasonWithdrawn          = "Withdrawn"
	ReasonAgreementEnded     = "AgreementEnded"
	ReasonGrantRevoked       = "GrantRevoked"
	ReasonDelistedByReviewer = "DelistedByReviewer"
	ReasonDeleted            = "ProductDeleted"
)

// Inputs is what a product's phase depends on besides the product itself.
type Inputs struct {
	Product *opv1.DataProduct
	// AgreementEnded: the product's agreement has ended, is out of term, or is gone.
	AgreementEnded bool
	// GrantRevoked names a grant the product was made from that was revoked or is gone.
	GrantRevoked string
	// Stages are the reviews the product needs, in order (Stages).
	Stages []opv1.ReviewStage
}

// Outcome is where the product stands and why.
type Outcome struct {
	Phase opv1.ProductPhase
	// Stage is the stage awaiting a review, while InReview.
	Stage           opv1.ReviewStage
	Reason, Message string
}

// ended are the phases a product never leaves.
var ended = []opv1.ProductPhase{opv1.ProductRejected, opv1.ProductWithdrawn, opv1.ProductDelisted}

// Decide returns the product's phase. A published product is delisted when its agreement ends,
// a grant it was made from is revoked, or a reviewer delists it; before publication the same
// ends withdraw it. Otherwise it is sealed (each revision anew), checked, and reviewed stage by
// stage, where only a complete review of the sealed digest counts.
func Decide(in Inputs) Outcome {
	p := in.Product
	if slices.Contains(ended, p.Status.Phase) {
		out := Outcome{Phase: p.Status.Phase}
		if p.Status.Ended != nil {
			out.Reason, out.Message = p.Status.Ended.Reason, p.Status.Ended.Message
		}
		return out
	}
	end := func(phase opv1.ProductPhase) (Outcome, bool) {
		switch {
		case in.AgreementEnded:
			return Outcome{Phase: phase, Reason: ReasonAgreementEnded, Message: "agreement " + p.Spec.Authorization + " has ended"}, true
		case in.GrantRevoked != "":
			return Outcome{Phase: phase, Reason: ReasonGrantRevoked, Message: "grant " + in.GrantRevoked + " the product was made from is no longer in force"}, true
		}
		return Outcome{}, false
	}
	if p.Status.Published != nil {
		if out, ok := end(opv1.ProductDelisted); ok {
			return out
		}
		if d := p.Spec.Delist; d != nil {
			return Outcome{Phase: opv1.ProductDelisted, Reason: ReasonDelistedByReviewer, Message: d.Reviewer + ": " + d.Reason}
		}
		return Outcome{Phase: opv1.ProductPublished, Reason: ReasonPublished}
	}
	if p.Spec.Withdrawn {
		return Outcome{Phase: opv1.ProductWithdrawn, Reason: ReasonWithdrawn, Message: "withdrawn by its submitter"}
	}
	if out, ok := end(opv1.ProductWithdrawn); ok {
		return out
	}
	switch stage, why := airlock.Admission(p.Spec.Revision, &p.Status.ArtifactStatus); stage {
	case airlock.SealFailed:
		return Outcome{Phase: opv1.ProductFailed, Reason: ReasonSealFailed, Message: why}
	case airlock.Sealing:
		return Outcome{Phase: opv1.ProductSealing, Reason: ReasonSealing, Message: why}
	case airlock.Checking:
		return Outcome{Phase: opv1.ProductChecking, Reason: ReasonChecking, Message: why}
	case airlock.ChecksFailed:
		return Outcome{Phase: opv1.ProductReturned, Reason: ReasonChecksFailed, Message: why}
	case airlock.Checked: // sealed and checked: the reviews decide, below
	}
	sealed := p.Status.Sealed
	var approvers []string
	for _, stage := range in.Stages {
		r := decisive(p.Spec.Reviews, stage, sealed.SHA256, approvers)
		switch {
		case r == nil:
			return Outcome{Phase: opv1.ProductInReview, Stage: stage, Reason: ReasonAwaitingReview,
				Message: fmt.Sprintf("awaiting the %s review of %s", stage, sealed.SHA256)}
		case r.Decision == opv1.DecisionRejected:
			return Outcome{Phase: opv1.ProductRejected, Reason: ReasonRejected, Message: fmt.Sprintf("%s review by %s: %s", stage, r.Reviewer, r.Comment)}
		case r.Decision == opv1.DecisionChangesRequested:
			return Outcome{Phase: opv1.ProductReturned, Reason: ReasonChangesRequested,
				Message: fmt.Sprintf("%s review by %s: %s; raise spec.revision once fixed", stage, r.Reviewer, r.Comment)}
		}
		approvers = append(approvers, r.Reviewer)
	}
	return Outcome{Phase: opv1.ProductApproved, Reason: ReasonPublishing, Message: "every review approved " + sealed.SHA256}
}

// decisive returns the last review of stage that counts: of the sealed digest, answering every
// review point, an approval passing every point and given by no one who approved an earlier
// stage. Admission refuses the others; they are ignored here too, failing closed.
func decisive(reviews []opv1.ProductReview, stage opv1.ReviewStage, digest string, approvers []string) *opv1.ProductReview {
	var last *opv1.ProductReview
	for i := range reviews {
		r := &reviews[i]
		if r.Stage != stage || r.SHA256 != digest || len(r.MissingPoints()) > 0 {
			continue
		}
		if r.Decision == opv1.DecisionApproved && (slices.Contains(approvers, r.Reviewer) || !r.PassesEveryPoint()) {
			continue
		}
		last = r
	}
	return last
}

// Stages are the reviews a product needs under its domain's policy in force: its stages (the
// operator's one review when it names none), then a cross-border review where a recipient is
// foreign or foreign-funded (NJ 10).
func Stages(inForce []opv1.ReviewStage, recipients []opv1.Recipient) []opv1.ReviewStage {
	stages := slices.Clone(inForce)
	if len(stages) == 0 {
		stages = []opv1.ReviewStage{opv1.StageOperator}
	}
	foreign := slices.ContainsFunc(recipients, func(r opv1.Recipient) bool { return r.Foreign })
	if foreign && !slices.Contains(stages, opv1.StageCrossBorder) {
		stages = append(stages, opv1.StageCrossBorder)
	}
	return stages
}
