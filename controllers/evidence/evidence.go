// Package evidence keeps each domain's TeardownRecords (teardowns, and the airlock's terminal
// events) as a hash chain (R6): every record
// carries the SHA-256 of its canonical content and the digest of the domain's previous record,
// so an edited or removed record is detectable, and records leave only when retention allows.
package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// ErrSequenceTaken means another record took the next place in the chain first; try again.
var ErrSequenceTaken = errors.New("another TeardownRecord took the next sequence number")

// Digest is the hex SHA-256 of a record's canonical content: its spec as JSON, digest empty,
// as the API server keeps it. JSON writes a byte that is not UTF-8 (a reason cut mid-character)
// as the escape \ufffd, and the character the API server stores in its place unescaped; the
// content is therefore written, read back and written again, so that a record digests the same
// before it is stored and after.
func Digest(spec opv1.TeardownRecordSpec) string {
	spec.Digest = ""
	raw, err := json.Marshal(spec)
	if err == nil {
		var stored opv1.TeardownRecordSpec
		if err = json.Unmarshal(raw, &stored); err == nil {
			raw, err = json.Marshal(stored)
		}
	}
	if err != nil {
		panic(fmt.Sprintf("a TeardownRecordSpec always marshals: %v", err)) // plain data, no custom marshalers that fail
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// RecordName is the name of a domain's record at a place in its chain; taking a name is how a
// writer claims the place.
func RecordName(domain string, sequence int64) string {
	return fmt.Sprintf("%s-%08d", domain, sequence)
}

// Chain returns the domain's records in sequence order.
func Chain(ctx context.Context, c client.Reader, d *opv1.OperationDomain) ([]opv1.TeardownRecord, error) {
	var list opv1.TeardownRecordList
	if err := c.List(ctx, &list, client.InNamespace(d.Spec.ControlNamespace), client.MatchingLabels{opv1.LabelDomain: d.Name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Spec.Sequence < list.Items[j].Spec.Sequence })
	return list.Items, nil
}

// Append writes spec as the next record of the domain's chain, once per subject and event: when
// a record of spec.Subject and spec.Event exists already (a teardown resumed after a restart),
// it returns that one.
// It reads past the cache, so that the chain it extends is the chain as stored.
func Append(ctx context.Context, c client.Client, reader client.Reader, d *opv1.OperationDomain, spec opv1.TeardownRecordSpec, labels map[string]string) (string, error) {
	var mine opv1.TeardownRecordList
	if err := reader.List(ctx, &mine, client.InNamespace(d.Spec.ControlNamespace),
		client.MatchingLabels{opv1.LabelSubjectUID: spec.Subject.UID}); err != nil {
		return "", err
	}
	for _, rec := range mine.Items {
		if rec.Spec.Event == spec.Event {
			return rec.Name, nil
		}
	}
	chain, err := Chain(ctx, reader, d)
	if err != nil {
		return "", err
	}
	prev := d.Status.Evidence.Pruned
	if n := len(chain); n > 0 {
		prev = link(&chain[n-1])
	}
	spec.Domain = d.Name
	spec.Sequence = prev.Sequence + 1
	spec.PreviousDigest = prev.Digest
	spec.Digest = Digest(spec)
	all := map[string]string{opv1.LabelDomain: d.Name, opv1.LabelSubjectUID: spec.Subject.UID}
	for k, v := range labels {
		all[k] = v
	}
	rec := &opv1.TeardownRecord{
		ObjectMeta: metav1.ObjectMeta{Name: RecordName(d.Name, spec.Sequence), Namespace: d.Spec.ControlNamespace, Labels: all},
		Spec:       spec,
	}
	if err := c.Create(ctx, rec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", ErrSequenceTaken
		}
		return "", err
	}
	return rec.Name, nil
}

func link(r *opv1.TeardownRecord) opv1.ChainLink {
	return opv1.ChainLink{Sequence: r.Spec.Sequence, Digest: r.Spec.Digest}
}

// Verify checks a domain's chain against its recorded head and pruning point and returns
// every violation found; none means the chain is intact.
func Verify(records []opv1.TeardownRecord, ev opv1.EvidenceStatus) []string {
	var problems []string
	sort.Slice(records, func(i, j int) bool { return records[i].Spec.Sequence < records[j].Spec.Sequence })
	expected, prevDigest := ev.Pruned.Sequence+1, ev.Pruned.Digest
	for i := range records {
		rec := &records[i]
		if rec.Spec.Sequence <= ev.Pruned.Sequence {
			continue // past retention, being removed
		}
		if got := Digest(rec.Spec); got != rec.Spec.Digest {
			problems = append(problems, fmt.Sprintf("%s: content does not match its digest: the record was edited", rec.Name))
		}
		if rec.Spec.Sequence != expected {
			problems = append(problems, fmt.Sprintf("records %d to %d are missing before %s", expected, rec.Spec.Sequence-1, rec.Name))
		} else if rec.Spec.PreviousDigest != prevDigest {
			problems = append(problems, fmt.Sprintf("%s: does not follow record %d: previous digest differs", rec.Name, rec.Spec.Sequence-1))
		}
		expected, prevDigest = rec.Spec.Sequence+1, rec.Spec.Digest
	}
	if last := expected - 1; last < ev.Head.Sequence {
		problems = append(problems, fmt.Sprintf("records %d to %d are missing from the end of the chain", last+1, ev.Head.Sequence))
	} else if last == ev.Head.Sequence && ev.Head.Digest != "" && last > ev.Pruned.Sequence && prevDigest != ev.Head.Digest {
		problems = append(problems, fmt.Sprintf("record %d differs from the chain head the domain recorded", last))
	}
	return problems
}

// VerifyDomain reads a domain and its records and verifies them.
func VerifyDomain(ctx context.Context, c client.Reader, name string) ([]string, int, error) {
	var d opv1.OperationDomain
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &d); err != nil {
		return nil, 0, err
	}
	records, err := Chain(ctx, c, &d)
	if err != nil {
		return nil, 0, err
	}
	return Verify(records, d.Status.Evidence), len(records), nil
}
