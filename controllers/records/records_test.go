package records

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// R8: records are chained across restarts of the writer, and a line cut short by a crash is
// neither read nor built upon.
func TestR8_RecordsChainAcrossRestartsAndSurviveATornWrite(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	g.Expect((&Store{Dir: dir}).Append(t.Context(), "d", []Record{{Verb: "create"}, {Verb: "delete"}})).To(Succeed())
	file := filepath.Join(dir, "d", "000000000001.jsonl")
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = f.WriteString(`{"seq":3,"verb":"upd`) // torn
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Close()).To(Succeed())

	n, err := (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{})
	g.Expect(err).NotTo(HaveOccurred(), "a line still being written is not read")
	g.Expect(n).To(BeEquivalentTo(2))
	g.Expect((&Store{Dir: dir}).Append(t.Context(), "d", []Record{{Verb: "patch"}})).To(Succeed(), "a restarted writer")
	var verbs []string
	g.Expect((&Store{Dir: dir}).Read(t.Context(), "d", func(r Record) error { verbs = append(verbs, r.Verb); return nil })).To(Succeed())
	g.Expect(verbs).To(Equal([]string{"create", "delete", "patch"}))
	n, err = (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(3))
}

// R8: the anchor, kept outside the records' volume, catches what the chain alone cannot: the
// records rewritten consistently, or cut off at the end.
func TestR8_TheAnchorCatchesARewriteAndACutEnd(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	s := &Store{Dir: dir}
	g.Expect(s.Append(t.Context(), "d", []Record{{Verb: "create"}, {Verb: "delete"}, {Verb: "patch"}})).To(Succeed())
	head, err := s.Head(t.Context(), "d")
	g.Expect(err).NotTo(HaveOccurred())
	anchor := Anchor{Sequence: 2}
	g.Expect((&Store{Dir: dir}).Read(t.Context(), "d", func(r Record) error {
		if r.Sequence == 2 {
			anchor.Digest = r.Digest
		}
		return nil
	})).To(Succeed())
	_, err = (&Store{Dir: dir}).Verify(t.Context(), "d", anchor, Anchor{})
	g.Expect(err).NotTo(HaveOccurred())

	rewritten := t.TempDir()
	g.Expect((&Store{Dir: rewritten}).Append(t.Context(), "d", []Record{{Verb: "get"}, {Verb: "delete"}, {Verb: "patch"}})).To(Succeed())
	_, err = (&Store{Dir: rewritten}).Verify(t.Context(), "d", Anchor{}, Anchor{})
	g.Expect(err).NotTo(HaveOccurred(), "a consistent rewrite passes the chain alone")
	_, err = (&Store{Dir: rewritten}).Verify(t.Context(), "d", anchor, Anchor{})
	g.Expect(err).To(MatchError(ContainSubstring("record 2 is not the one anchored")))

	_, err = (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{Sequence: head.Sequence + 2, Digest: "x"}, Anchor{})
	g.Expect(err).To(MatchError(ContainSubstring("records 4 to 5 are missing from the end")))
}

// R6, R8: records are kept in daily segments; retention removes whole days, oldest first, never
// the newest, and the chain verifies from the point the domain's status keeps.
func TestR8_RetentionRemovesWholeDaysOldestFirst(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	s := &Store{Dir: dir}
	d1 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	d2, d3 := d1.AddDate(0, 0, 1), d1.AddDate(0, 0, 2)
	g.Expect(s.Append(t.Context(), "d", []Record{{Time: d1, Verb: "a"}, {Time: d1.Add(time.Hour), Verb: "b"}, {Time: d2, Verb: "c"}})).To(Succeed())
	g.Expect(s.Append(t.Context(), "d", []Record{{Time: d2.Add(time.Hour), Verb: "d"}, {Time: d3, Verb: "e"}})).To(Succeed())
	segs, err := segmentFiles(dir, "d")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(segs).To(HaveLen(3), "one a day")

	due, err := s.Retention(t.Context(), "d", 1, d2.Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(due.Segments).To(Equal(segs[:1]), "only the day whose last record is a day old")
	g.Expect(due.Through.Sequence).To(BeEquivalentTo(2))
	g.Expect(due.Next).To(Equal(d2.Add(time.Hour).Add(24*time.Hour)), "the next day falls due a day after its last record")
	through := due.Through
	g.Expect(s.Remove(t.Context(), "d", due.Segments)).To(Succeed())
	due, err = s.Retention(t.Context(), "d", 1, d2.Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(due.Segments).To(BeEmpty(), "a removed segment is forgotten")
	_, err = (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{})
	g.Expect(err).To(MatchError(ContainSubstring("record 3 follows record 0")), "without the pruning point the gap shows")
	n, err := (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{Sequence: through.Sequence, Digest: through.Digest})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(5))

	due, err = s.Retention(t.Context(), "d", 1, d3.AddDate(1, 0, 0))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(due.Segments).To(Equal(segs[1:2]), "never the newest segment")
	g.Expect(due.Next).To(BeZero(), "nothing left to fall due but the newest")
}

// segmentFiles lists the names of a domain's segments on the volume, oldest first.
func segmentFiles(dir, domain string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, domain, "*.jsonl"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	return files, err
}

// R8, R6: records the status says were pruned but that are still there (their removal failed,
// or the archive's lock still held) are passed over, not taken for an inserted run; the pruned
// record itself must still be the one the status names.
func TestR8_RecordsStillThereAfterThePruningPointVerify(t *testing.T) {
	g := NewWithT(t)
	s := &Store{Dir: t.TempDir()}
	g.Expect(s.Append(t.Context(), "d", []Record{{Verb: "create"}, {Verb: "get"}, {Verb: "delete"}})).To(Succeed())
	var second Record
	g.Expect(s.Read(t.Context(), "d", func(r Record) error {
		if r.Sequence == 2 {
			second = r
		}
		return nil
	})).To(Succeed())
	n, err := s.Verify(t.Context(), "d", Anchor{}, Anchor{Sequence: 2, Digest: second.Digest})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(3))
	_, err = s.Verify(t.Context(), "d", Anchor{}, Anchor{Sequence: 2, Digest: "other"})
	g.Expect(err).To(MatchError(ContainSubstring("record 2 is not the one the domain's status says was pruned")))
}

// R8: a query pages through a domain's days: each page begins after the record the one before
// ended with, the days wholly before it are not read (one is overwritten with what cannot be
// read, to show it), and
// the filters hold across pages. A name that is not a domain's reads nothing.
func TestR8_AQueryPagesThroughTheDaysFromWhereThePageBeforeEnded(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	s := &Store{Dir: dir}
	day1 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var recs []Record
	for d := range 3 {
		for i := range 4 {
			person := "zhangsan"
			if i%2 == 1 {
				person = "lisi"
			}
			recs = append(recs, Record{Time: day1.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute), Verb: "get", Person: person})
		}
	}
	g.Expect(s.Append(t.Context(), "d", recs)).To(Succeed())
	segments, err := filepath.Glob(filepath.Join(dir, "d", "*.jsonl"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(segments).To(HaveLen(3), "a segment a day")

	q := Query{Person: "lisi", Limit: 2}
	page, more, err := s.Find(t.Context(), "d", q)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(more).To(BeTrue())
	g.Expect(page).To(HaveExactElements(HaveField("Sequence", BeEquivalentTo(2)), HaveField("Sequence", BeEquivalentTo(4))))
	g.Expect(os.WriteFile(segments[0], []byte("not a record\n"), 0o600)).To(Succeed()) // the first day is done with
	q.After = page[1].Sequence
	page, more, err = s.Find(t.Context(), "d", q)
	g.Expect(err).NotTo(HaveOccurred(), "the first day is not read again")
	g.Expect(more).To(BeTrue())
	g.Expect(page).To(HaveExactElements(HaveField("Sequence", BeEquivalentTo(6)), HaveField("Sequence", BeEquivalentTo(8))))
	q.After, q.Since = page[1].Sequence, day1.Add(48*time.Hour+2*time.Minute)
	page, more, err = s.Find(t.Context(), "d", q)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(more).To(BeFalse())
	g.Expect(page).To(HaveExactElements(HaveField("Sequence", BeEquivalentTo(12))))

	_, _, err = s.Find(t.Context(), "..", Query{})
	g.Expect(err).To(MatchError(ContainSubstring(`domain ".."`)))
}

// R8: a directory of records has one writer: a second Store on it (another process, as flock
// sees a second open of the file) cannot claim it while the first holds it, and can once the
// first is gone; claiming again in the same Store is a no-op.
func TestR8_ADirectoryOfRecordsHasOneWriter(t *testing.T) {
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "records")
	first, second := &Store{Dir: dir}, &Store{Dir: dir}
	g.Expect(first.Claim()).To(Succeed())
	g.Expect(first.Claim()).To(Succeed(), "a manager restarted in the same process")
	g.Expect(second.Claim()).To(MatchError(ContainSubstring("have another writer")))
	g.Expect(first.writer.Close()).To(Succeed()) // the first process ends
	g.Expect(second.Claim()).To(Succeed())
}
