// Package dataimport is the entrance airlock (R4): outside data or code waits in the domain's
// inbox, is sealed and checked by the operator (controllers/airlock), reviewed by the operator
// entity against the digest the operator computed, delivered read-only into its workspace, and
// destroyed with it. phase.go decides where an import stands as a pure function of what the
// reconciler observed.
package dataimport

import (
	"slices"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/airlock"
)

// Reasons an import's phase gives.
const (
	ReasonSealing          = "Sealing"
	ReasonSealFailed       = "SealFailed"
	ReasonChecking         = "Checking"
	ReasonChecksFailed     = "ChecksFailed"
	ReasonAwaitingReview   = "AwaitingReview"
	ReasonChangesRequested = "ChangesRequested"
	ReasonRejected         = "Rejected"
	ReasonDelivering       = "Delivering"
	ReasonDelivered        = "Delivered"
	ReasonWithdrawn        = "Withdrawn"
	ReasonEnded            = "WorkspaceEnded"
	ReasonDeleted          = "ImportDeleted"
)

// Inputs is what an import's phase depends on besides the import itself.
type Inputs struct {
	Import *opv1.DataImport
	// Ended says why the import's workspace can no longer hold it (its agreement ended, the
	// workspace is gone or torn down); empty while it can.
	Ended string
}

// Outcome is where the import stands and why.
type Outcome struct {
	Phase           opv1.ImportPhase
	Reason, Message string
}

// ended are the phases an import never leaves.
var ended = []opv1.ImportPhase{opv1.ImportRejected, opv1.ImportWithdrawn, opv1.ImportRemoved}

// Decide returns the import's phase. A delivered import is removed when it is withdrawn or its
// workspace ends; before delivery the same withdraws it. Otherwise it is sealed (each revision
// anew), checked, and reviewed, where only a review of the sealed digest counts.
func Decide(in Inputs) Outcome {
	m := in.Import
	if slices.Contains(ended, m.Status.Phase) {
		out := Outcome{Phase: m.Status.Phase}
		if m.Status.Ended != nil {
			out.Reason, out.Message = m.Status.Ended.Reason, m.Status.Ended.Message
		}
		return out
	}
	end := func(phase opv1.ImportPhase) (Outcome, bool) {
		switch {
		case m.Spec.Withdrawn:
			return Outcome{Phase: phase, Reason: ReasonWithdrawn, Message: "withdrawn"}, true
		case in.Ended != "":
			return Outcome{Phase: phase, Reason: ReasonEnded, Message: in.Ended}, true
		}
		return Outcome{}, false
	}
	if m.Status.Delivered != nil {
		if out, ok := end(opv1.ImportRemoved); ok {
			return out
		}
		return Outcome{Phase: opv1.ImportDelivered, Reason: ReasonDelivered, Message: "delivered read-only at " + m.Status.Delivered.Location}
	}
	if out, ok := end(opv1.ImportWithdrawn); ok {
		return out
	}
	switch stage, why := airlock.Admission(m.Spec.Revision, &m.Status.ArtifactStatus); stage {
	case airlock.SealFailed:
		return Outcome{Phase: opv1.ImportFailed, Reason: ReasonSealFailed, Message: why}
	case airlock.Sealing:
		return Outcome{Phase: opv1.ImportSealing, Reason: ReasonSealing, Message: why}
	case airlock.Checking:
		return Outcome{Phase: opv1.ImportChecking, Reason: ReasonChecking, Message: why}
	case airlock.ChecksFailed:
		return Outcome{Phase: opv1.ImportReturned, Reason: ReasonChecksFailed, Message: why}
	case airlock.Checked: // sealed and checked: the reviews decide, below
	}
	sealed := m.Status.Sealed
	var last *opv1.ImportReview
	for i := range m.Spec.Reviews {
		if r := &m.Spec.Reviews[i]; r.SHA256 == sealed.SHA256 && r.Reviewer != m.Spec.SubmittedBy {
			last = r
		}
	}
	switch {
	case last == nil:
		return Outcome{Phase: opv1.ImportInReview, Reason: ReasonAwaitingReview, Message: "awaiting the operator's review of " + sealed.SHA256}
	case last.Decision == opv1.DecisionRejected:
		return Outcome{Phase: opv1.ImportRejected, Reason: ReasonRejected, Message: last.Reviewer + ": " + last.Comment}
	case last.Decision == opv1.DecisionChangesRequested:
		return Outcome{Phase: opv1.ImportReturned, Reason: ReasonChangesRequested, Message: last.Reviewer + ": " + last.Comment + "; raise spec.revision once fixed"}
	}
	return Outcome{Phase: opv1.ImportApproved, Reason: ReasonDelivering, Message: last.Reviewer + " approved " + sealed.SHA256}
}
