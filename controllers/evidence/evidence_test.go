package evidence

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// chain builds n correctly linked records.
func chain(n int) []opv1.TeardownRecord {
	var out []opv1.TeardownRecord
	prev := ""
	for i := 1; i <= n; i++ {
		spec := opv1.TeardownRecordSpec{
			Sequence: int64(i), PreviousDigest: prev, Domain: "d", Reason: "TermExpired",
			Subject:     opv1.ObjectRecord{Kind: "DeveloperWorkspace", Name: fmt.Sprintf("ws%d", i), UID: fmt.Sprintf("uid-%d", i)},
			StartedAt:   metav1.NewTime(time.Date(2026, 1, i, 0, 0, 0, 0, time.UTC)),
			CompletedAt: metav1.NewTime(time.Date(2026, 1, i, 0, 1, 0, 0, time.UTC)),
		}
		spec.Digest = Digest(spec)
		prev = spec.Digest
		out = append(out, opv1.TeardownRecord{ObjectMeta: metav1.ObjectMeta{Name: RecordName("d", int64(i))}, Spec: spec})
	}
	return out
}

func head(records []opv1.TeardownRecord) opv1.ChainLink {
	last := records[len(records)-1]
	return opv1.ChainLink{Sequence: last.Spec.Sequence, Digest: last.Spec.Digest}
}

func TestR6_VerifyDetectsEditedAndRemovedRecords(t *testing.T) {
	full := chain(4)
	for _, tc := range []struct {
		name    string
		records func() []opv1.TeardownRecord
		status  func() opv1.EvidenceStatus
		problem string
	}{
		{name: "an intact chain passes",
			records: func() []opv1.TeardownRecord { return chain(4) },
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full)} }},
		{name: "an edited record is caught by its digest",
			records: func() []opv1.TeardownRecord { r := chain(4); r[1].Spec.Reason = "VoluntaryRequest"; return r },
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full)} },
			problem: "d-00000002: content does not match its digest"},
		{name: "an edited record given a fresh digest is caught by its successor",
			records: func() []opv1.TeardownRecord {
				r := chain(4)
				r[1].Spec.Reason = "VoluntaryRequest"
				r[1].Spec.Digest = Digest(r[1].Spec)
				return r
			},
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full)} },
			problem: "d-00000003: does not follow record 2"},
		{name: "a record removed from the middle leaves a gap",
			records: func() []opv1.TeardownRecord { r := chain(4); return append(r[:1], r[2:]...) },
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full)} },
			problem: "records 2 to 2 are missing before d-00000003"},
		{name: "a record removed from the end shows against the head",
			records: func() []opv1.TeardownRecord { return chain(4)[:3] },
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full)} },
			problem: "records 4 to 4 are missing from the end"},
		{name: "records pruned by retention pass",
			records: func() []opv1.TeardownRecord { return chain(4)[2:] },
			status: func() opv1.EvidenceStatus {
				return opv1.EvidenceStatus{Head: head(full), Pruned: opv1.ChainLink{Sequence: 2, Digest: full[1].Spec.Digest}}
			}},
		{name: "a record removed before its predecessors' retention ran out is caught",
			records: func() []opv1.TeardownRecord { return chain(4)[2:] },
			status: func() opv1.EvidenceStatus {
				return opv1.EvidenceStatus{Head: head(full), Pruned: opv1.ChainLink{Sequence: 1, Digest: full[0].Spec.Digest}}
			},
			problem: "records 2 to 2 are missing"},
		{name: "a chain pruned to nothing passes",
			records: func() []opv1.TeardownRecord { return nil },
			status:  func() opv1.EvidenceStatus { return opv1.EvidenceStatus{Head: head(full), Pruned: head(full)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			problems := Verify(tc.records(), tc.status())
			if tc.problem == "" {
				g.Expect(problems).To(BeEmpty())
				return
			}
			g.Expect(problems).To(ContainElement(ContainSubstring(tc.problem)))
		})
	}
}
