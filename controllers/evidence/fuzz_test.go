package evidence

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// R6, fuzzed: a record's digest is a function of its content alone: the same content gives the
// same digest, content that differs in any field gives another, and the digest field itself
// does not count.
func FuzzR6_ARecordsDigestChangesWithItsContent(f *testing.F) {
	f.Add("TermExpired", "TermExpired", "acme-dev", int64(1), int64(0))
	f.Add("Breach", "Breach ", "ws", int64(7), int64(1))
	f.Add("", "x", "", int64(1), int64(-1))
	f.Fuzz(func(t *testing.T, reason, otherReason, subject string, sequence, seconds int64) {
		at := metav1.NewTime(time.Unix(1_700_000_000, 0).UTC())
		spec := opv1.TeardownRecordSpec{Sequence: sequence, Domain: "jiangsu", Reason: reason, StartedAt: at, CompletedAt: at,
			Subject: opv1.ObjectRecord{Kind: "DeveloperWorkspace", Name: subject, UID: "u"}}
		digest := Digest(spec)
		if Digest(spec) != digest {
			t.Fatal("the same content gave two digests")
		}
		spec.Digest = digest
		if Digest(spec) != digest {
			t.Fatal("the digest field counted in the digest")
		}
		other := spec
		other.Reason = otherReason
		// What is not UTF-8 is kept as U+FFFD by the API server, so only that form tells apart.
		same := asStored(otherReason) == asStored(reason)
		if (Digest(other) == digest) != same {
			t.Fatalf("reasons %q and %q: digests equal %v", reason, otherReason, Digest(other) == digest)
		}
		stored := spec
		stored.Reason = asStored(reason)
		if Digest(stored) != digest {
			t.Fatalf("reason %q digests differently once stored as %q", reason, stored.Reason)
		}
		moved := spec
		moved.Sequence++
		if Digest(moved) == digest {
			t.Fatal("a record moved in the chain kept its digest")
		}
		later := spec
		// Times are kept to the second, as the API server stores them.
		later.CompletedAt = metav1.NewTime(at.Add(time.Duration(1+abs(seconds)%3600) * time.Second))
		if Digest(later) == digest {
			t.Fatal("a record with another completion time kept its digest")
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -(n + 1) // -MinInt64 overflows; off by one is no matter here
	}
	return n
}

// asStored is s as it comes back from the API server: through JSON.
func asStored(s string) string {
	raw, _ := json.Marshal(s)
	var back string
	_ = json.Unmarshal(raw, &back)
	return back
}
