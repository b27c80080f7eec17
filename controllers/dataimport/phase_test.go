package dataimport

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

const (
	digest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	stale  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// imported is an import at revision 1, asked for by lisi, in the state the options give.
func imported(opts ...func(*opv1.DataImport)) *opv1.DataImport {
	m := &opv1.DataImport{Spec: opv1.DataImportSpec{Authorization: "acme", SubmittedBy: "lisi", Revision: 1}}
	for _, o := range opts {
		o(m)
	}
	return m
}

func sealed(m *opv1.DataImport) {
	m.Status.Sealed = &opv1.SealedArtifact{Revision: m.Spec.Revision, SHA256: digest, Size: 42}
}

func checked(outcome opv1.CheckResult) func(*opv1.DataImport) {
	return func(m *opv1.DataImport) {
		sealed(m)
		m.Status.Checks = &opv1.CheckReport{SHA256: digest, Outcome: string(outcome)}
	}
}

func review(reviewer, sha string, decision opv1.ProductDecision) func(*opv1.DataImport) {
	return func(m *opv1.DataImport) {
		if m.Status.Checks == nil {
			checked(opv1.CheckPass)(m)
		}
		m.Spec.Reviews = append(m.Spec.Reviews, opv1.ImportReview{Reviewer: reviewer, SHA256: sha, Decision: decision, Time: metav1.Now(), Comment: "lawful source"})
	}
}

func delivered(m *opv1.DataImport) {
	review("wang", digest, opv1.DecisionApproved)(m)
	m.Status.Delivered = &opv1.DeliveredCopy{Location: "ws/opdomain-import-roads-r1:/artifact", SHA256: digest}
	m.Status.Phase = opv1.ImportDelivered
}

func with(f func(*opv1.DataImport)) func(*opv1.DataImport) { return f }

// R4: an import comes in only as the bytes the operator sealed, checked, and approved by a
// reviewer who did not ask for it; it leaves with its workspace, for good.
func TestR4_ImportPhaseMachine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		m      *opv1.DataImport
		in     Inputs
		want   opv1.ImportPhase
		reason string
	}{
		{"new", imported(), Inputs{}, opv1.ImportSealing, ReasonSealing},
		{"seal failed", imported(with(func(m *opv1.DataImport) { m.Status.Custody = &opv1.ArtifactCustody{Revision: 1, Failure: "a symlink"} })),
			Inputs{}, opv1.ImportFailed, ReasonSealFailed},
		{"a new revision reseals", imported(sealed, with(func(m *opv1.DataImport) { m.Spec.Revision = 2 })), Inputs{}, opv1.ImportSealing, ReasonSealing},
		{"sealed, unchecked", imported(sealed), Inputs{}, opv1.ImportChecking, ReasonChecking},
		{"checks failed", imported(checked(opv1.CheckFail)), Inputs{}, opv1.ImportReturned, ReasonChecksFailed},
		{"checked", imported(checked(opv1.CheckPass)), Inputs{}, opv1.ImportInReview, ReasonAwaitingReview},
		{"checks needing a person", imported(checked("Review")), Inputs{}, opv1.ImportInReview, ReasonAwaitingReview},
		{"a stale digest's approval", imported(review("wang", stale, opv1.DecisionApproved)), Inputs{}, opv1.ImportInReview, ReasonAwaitingReview},
		{"the submitter's own approval", imported(review("lisi", digest, opv1.DecisionApproved)), Inputs{}, opv1.ImportInReview, ReasonAwaitingReview},
		{"approved", imported(review("wang", digest, opv1.DecisionApproved)), Inputs{}, opv1.ImportApproved, ReasonDelivering},
		{"changes requested", imported(review("wang", digest, opv1.DecisionChangesRequested)), Inputs{}, opv1.ImportReturned, ReasonChangesRequested},
		{"the last review counts", imported(review("wang", digest, opv1.DecisionChangesRequested), review("sun", digest, opv1.DecisionApproved)),
			Inputs{}, opv1.ImportApproved, ReasonDelivering},
		{"rejected", imported(review("wang", digest, opv1.DecisionRejected)), Inputs{}, opv1.ImportRejected, ReasonRejected},
		{"withdrawn in review", imported(checked(opv1.CheckPass), with(func(m *opv1.DataImport) { m.Spec.Withdrawn = true })), Inputs{}, opv1.ImportWithdrawn, ReasonWithdrawn},
		{"workspace ended before delivery", imported(review("wang", digest, opv1.DecisionApproved)), Inputs{Ended: "agreement acme ended"},
			opv1.ImportWithdrawn, ReasonEnded},
		{"delivered", imported(delivered), Inputs{}, opv1.ImportDelivered, ReasonDelivered},
		{"delivered, workspace ended", imported(delivered), Inputs{Ended: "workspace torn down"}, opv1.ImportRemoved, ReasonEnded},
		{"delivered, withdrawn", imported(delivered, with(func(m *opv1.DataImport) { m.Spec.Withdrawn = true })), Inputs{}, opv1.ImportRemoved, ReasonWithdrawn},
		{"removed for good", imported(delivered, with(func(m *opv1.DataImport) {
			m.Status.Phase, m.Status.Ended = opv1.ImportRemoved, &opv1.ProductEnd{Reason: ReasonEnded}
		})), Inputs{}, opv1.ImportRemoved, ReasonEnded},
		{"rejected for good, even with a later approval", imported(review("wang", digest, opv1.DecisionApproved), with(func(m *opv1.DataImport) {
			m.Status.Phase, m.Status.Ended = opv1.ImportRejected, &opv1.ProductEnd{Reason: ReasonRejected}
		})), Inputs{}, opv1.ImportRejected, ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Import = tc.m
			got := Decide(tc.in)
			if got.Phase != tc.want || got.Reason != tc.reason {
				t.Fatalf("got %s (%s: %s), want %s (%s)", got.Phase, got.Reason, got.Message, tc.want, tc.reason)
			}
		})
	}
}
