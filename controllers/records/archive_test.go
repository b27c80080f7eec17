package records

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/gomega"

	"github.com/opdomain/opdomain/test/objectstore"
)

// archived is a store whose archive is a fresh bucket with object lock in a real object store.
func archived(t *testing.T) (*Store, *minio.Client, string) {
	t.Helper()
	store := objectstore.Start(t)
	archive, err := NewArchive(t.Context(), store.Bucket(t, "records", true))
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Client()
	if err != nil {
		t.Fatal(err)
	}
	return &Store{Dir: t.TempDir(), Archive: archive}, c, "records"
}

// R8, R6: once a day is over its segment moves to the archive, locked (COMPLIANCE) until its
// last record's retention runs out: whoever holds the bucket's keys can neither delete nor
// overwrite it; the volume keeps only the newest day; the records read and verify across both;
// and a writer on a new, empty volume goes on with the chain from the archive.
func TestR8_R6_DaysThatAreOverMoveToTheArchiveLockedForTheirRetention(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	s, bucket, name := archived(t)
	now := time.Now().UTC()
	d1, d2 := now.AddDate(0, 0, -2), now.AddDate(0, 0, -1)
	g.Expect(s.Append(ctx, "d", []Record{{Time: d1, Verb: "create"}, {Time: d1.Add(time.Minute), Verb: "get"}, {Time: d2, Verb: "patch"}, {Time: now, Verb: "delete"}})).To(Succeed())

	shipped, err := s.Ship(ctx, "d", 30, now)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shipped).To(Equal(2), "the two days that are over")
	g.Expect(segmentFiles(s.Dir, "d")).To(Equal([]string{"000000000004.jsonl"}), "the volume keeps the newest day")
	info, err := bucket.StatObject(ctx, name, "d/000000000001.jsonl", minio.StatObjectOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Metadata.Get("X-Amz-Object-Lock-Mode")).To(Equal("COMPLIANCE"))
	until, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(until).To(BeTemporally("~", d1.Add(time.Minute).AddDate(0, 0, 30), time.Second), "locked until its last record's retention ends")

	kept := readObject(t, bucket, name, "d/000000000001.jsonl")
	g.Expect(bucket.RemoveObject(ctx, name, "d/000000000001.jsonl", minio.RemoveObjectOptions{})).NotTo(Succeed(), "deleting a locked day is refused")
	forged := []byte(strings.Replace(kept, "create", "update", 1))
	_, err = bucket.PutObject(ctx, name, "d/000000000001.jsonl", bytes.NewReader(forged), int64(len(forged)), minio.PutObjectOptions{SendContentMd5: true})
	g.Expect(err).To(HaveOccurred(), "overwriting a locked day is refused")
	g.Expect(readObject(t, bucket, name, "d/000000000001.jsonl")).To(Equal(kept))

	var verbs []string
	g.Expect(s.Read(ctx, "d", func(r Record) error { verbs = append(verbs, r.Verb); return nil })).To(Succeed())
	g.Expect(verbs).To(Equal([]string{"create", "get", "patch", "delete"}))
	n, err := s.Verify(ctx, "d", Anchor{}, Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(4))

	shipped, err = s.Ship(ctx, "d", 30, now)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shipped).To(BeZero(), "shipping again moves nothing")

	fresh := &Store{Dir: t.TempDir(), Archive: s.Archive}
	head, err := fresh.Head(ctx, "d")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(head.Sequence).To(BeEquivalentTo(3), "a new volume goes on from the newest archived record")
	g.Expect(fresh.Append(ctx, "d", []Record{{Time: now, Verb: "list"}})).To(Succeed())
	_, err = fresh.Verify(ctx, "d", Anchor{}, Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
}

// R6, R8: a day due under the domain's retention leaves the archive only once the store's own
// lock has ended: asked earlier, the store refuses, whatever the asking clock said.
func TestR6_R8_AnArchivedDayGoesOnlyWhenItsLockEnds(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	s, bucket, name := archived(t)
	now := time.Now().UTC()
	last := now.AddDate(0, 0, -1).Add(3 * time.Second) // its one day of retention ends in 3 s
	g.Expect(s.Append(ctx, "d", []Record{{Time: last, Verb: "create"}, {Time: now.AddDate(0, 0, 1), Verb: "get"}})).To(Succeed())
	g.Expect(s.Ship(ctx, "d", 1, now)).To(Equal(1))

	due, err := s.Retention(ctx, "d", 1, now.Add(time.Minute)) // a clock running ahead
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(due.Segments).To(Equal([]string{"000000000001.jsonl"}))
	g.Expect(s.Remove(ctx, "d", due.Segments)).To(MatchError(ErrLocked), "refused while locked")
	g.Expect(readObject(t, bucket, name, "d/000000000001.jsonl")).To(ContainSubstring(`"verb":"create"`))

	time.Sleep(time.Until(last.AddDate(0, 0, 1).Add(time.Second)))
	g.Expect(s.Remove(ctx, "d", due.Segments)).To(Succeed(), "once the lock has ended")
	_, err = bucket.StatObject(ctx, name, "d/000000000001.jsonl", minio.StatObjectOptions{})
	g.Expect(minio.ToErrorResponse(err).Code).To(Equal("NoSuchKey"))
	n, err := s.Verify(ctx, "d", Anchor{}, Anchor{Sequence: due.Through.Sequence, Digest: due.Through.Digest})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(2))
}

// R8: shipping resumes after a crash between keeping a day in the archive and removing its file
// (the same bytes: the file goes), but a file that differs from what the archive holds is a
// conflict, and it stays.
func TestR8_ShippingResumesAndNeverDropsADifferentCopy(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	s, bucket, name := archived(t)
	now := time.Now().UTC()
	g.Expect(s.Append(ctx, "d", []Record{{Time: now.AddDate(0, 0, -1), Verb: "create"}, {Time: now, Verb: "get"}})).To(Succeed())
	g.Expect(s.Ship(ctx, "d", 30, now)).To(Equal(1))
	file := filepath.Join(s.Dir, "d", "000000000001.jsonl")
	kept := readObject(t, bucket, name, "d/000000000001.jsonl")

	g.Expect(os.WriteFile(file, []byte(kept), 0o600)).To(Succeed()) // the file the crash left
	g.Expect(s.Ship(ctx, "d", 30, now)).To(Equal(1))
	g.Expect(file).NotTo(BeAnExistingFile())

	g.Expect(os.WriteFile(file, []byte(strings.Replace(kept, "create", "update", 1)), 0o600)).To(Succeed())
	_, err := s.Ship(ctx, "d", 30, now)
	g.Expect(err).To(MatchError(ContainSubstring("already holds d/000000000001.jsonl with other content")))
	g.Expect(file).To(BeAnExistingFile(), "neither copy is dropped")
}

// R8: a bucket without object lock is refused: records in it could be deleted early.
func TestR8_ABucketWithoutObjectLockIsRefused(t *testing.T) {
	store := objectstore.Start(t)
	_, err := NewArchive(t.Context(), store.Bucket(t, "unlocked", false))
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("has no object lock")))
}

// readObject is an object's content.
func readObject(t *testing.T, c *minio.Client, bucket, key string) string {
	t.Helper()
	o, err := c.GetObject(t.Context(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = o.Close() }()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
