// Package records keeps a domain's operation records (R8): every request the API server handled
// on a domain's namespaces, by a domain's members or on its OperationDomain, as its audit
// webhook backend delivers it, appended to per-domain daily segments in which each record
// carries the digest of the one before it, so that a record edited, removed or inserted shows.
package records

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Record is one operation, as the API server audited it.
type Record struct {
	// Sequence numbers a domain's records from 1.
	Sequence int64     `json:"seq"`
	Time     time.Time `json:"time"`
	AuditID  string    `json:"auditID"`
	// User is the identity the request was made as; Person the real-name person a member's
	// credential stands for.
	User   string `json:"user"`
	Person string `json:"person,omitempty"`
	// Impersonator is who made the request as User, when it was made by impersonation.
	Impersonator string `json:"impersonator,omitempty"`
	// Workspace is the DeveloperWorkspace whose member credential made the request.
	Workspace   string `json:"workspace,omitempty"`
	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	// Code is the response's HTTP status; Decision the authorizer's: allow or forbid.
	Code     int32  `json:"code"`
	Decision string `json:"decision,omitempty"`
	// TokenID, Client and Items describe a grant token a data service asked about before
	// serving it (verb introspect): which token, from which pod address, for which items.
	TokenID string   `json:"tokenID,omitempty"`
	Client  string   `json:"client,omitempty"`
	Items   []string `json:"items,omitempty"`
	// Prev is the digest of the record before; Digest this one's, over Prev and every field
	// above.
	Prev   string `json:"prev"`
	Digest string `json:"digest"`
}

// Columns head a table of records, one Row each: kubectl opdomain records, kubectl get.
var Columns = []string{"SEQ", "TIME", "WHO", "VERB", "OBJECT", "RESULT"}

// Row is the record as a table shows it: who (the person and workspace behind a member's
// credential, else the user), what it acted on (kind and subresource, namespace and name; for a
// token's use, the token and its items), the HTTP status and the authorizer's decision.
func (r Record) Row() []string {
	who := r.User
	if r.Person != "" {
		who = r.Person + " (" + r.Workspace + ")"
	}
	object := "token " + r.TokenID + " " + strings.Join(r.Items, ",")
	if r.TokenID == "" {
		kind := r.Resource
		if r.APIGroup != "" {
			kind += "." + r.APIGroup
		}
		if r.Subresource != "" {
			kind += "/" + r.Subresource
		}
		object = path.Join(kind, r.Namespace, r.Name)
	}
	return []string{strconv.FormatInt(r.Sequence, 10), r.Time.UTC().Format(time.RFC3339), who, r.Verb, object,
		strings.TrimSpace(fmt.Sprintf("%d %s", r.Code, r.Decision))}
}

// digest is the record's digest: SHA-256 over its JSON without the digest itself.
func (r Record) digest() string {
	r.Digest = ""
	b, _ := json.Marshal(r) // a struct of strings, numbers and a time: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// validUTF8 replaces what is not UTF-8 in r's strings, as JSON does when it writes them, so
// that the digest is over the record as it is read back: JSON writes an invalid byte as the
// escape \ufffd but the character itself unescaped, which would differ.
func (r *Record) validUTF8() {
	for _, s := range []*string{&r.AuditID, &r.User, &r.Person, &r.Workspace, &r.Verb, &r.APIGroup, &r.Resource,
		&r.Subresource, &r.Namespace, &r.Name, &r.Decision, &r.TokenID, &r.Client} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
	for i := range r.Items {
		r.Items[i] = strings.ToValidUTF8(r.Items[i], "\uFFFD")
	}
}

// Store appends records to files under Dir: per domain a directory, per day (the records' own
// UTC date) a segment named after its first record's number, so that retention removes whole
// days. With an Archive, a day's segment moves there once the day is over (Ship), and the
// Store reads a domain's records from both. One process writes a Dir.
type Store struct {
	Dir     string
	Archive *Archive

	mu     sync.Mutex
	tails  map[string]tail   // each domain's newest record and segment, read once
	sealed map[string]Record // the last record of each sealed segment read so far, by domain/name
	writer *os.File          // holds the lock Claim took, for as long as the process runs
}

// Claim makes this process Dir's one writer for as long as it runs (an exclusive lock on
// Dir/.writer): a second process on the same directory, a recorder started by hand beside the
// chart's or a manager given the same --records-dir, fails here and does not start, instead of
// numbering a second chain into the same files.
func (s *Store) Claim() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writer != nil {
		return nil
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, ".writer"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return fmt.Errorf("the records in %s have another writer: %w", s.Dir, err)
	}
	s.writer = f
	return nil
}

var (
	openMu sync.Mutex
	open   = map[string]*Store{}
)

// Open is the process's Store for dir: every part of the manager that records (the audit
// receiver, token introspection, the domains' retention) writes through the same one, so that
// each domain's chain has one writer. archive is where sealed segments go; nil keeps them on
// the volume.
func Open(dir string, archive *Archive) *Store {
	openMu.Lock()
	defer openMu.Unlock()
	if s, ok := open[dir]; ok {
		return s
	}
	s := &Store{Dir: dir, Archive: archive}
	open[dir] = s
	return s
}

// tail is where a domain's next record goes.
type tail struct {
	head    Record
	segment string // the newest segment's path on the volume; "" before the first
}

// Append numbers and chains recs after the domain's last record and appends them, each to the
// segment of its day, synced to disk before it returns.
func (s *Store) Append(ctx context.Context, domain string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tail(ctx, domain)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, domain), 0o700); err != nil {
		return err
	}
	for len(recs) > 0 {
		// The run of records that falls on the newest segment's day, or starts a new one.
		if t.segment == "" || day(recs[0].Time) != day(t.head.Time) {
			t.segment = filepath.Join(s.Dir, domain, segmentName(t.head.Sequence+1))
		}
		n := 1
		for n < len(recs) && day(recs[n].Time) == day(recs[0].Time) {
			n++
		}
		if t.head, err = appendTo(t.segment, t.head, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	s.tails[domain] = t
	return nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// segmentName names the segment that starts with record first: zero-padded, so names sort.
func segmentName(first int64) string { return fmt.Sprintf("%012d.jsonl", first) }

// appendTo chains recs after head into the file at path, synced, and returns the new head.
func appendTo(path string, head Record, recs []Record) (Record, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // a segment of the store's own directory
	if err != nil {
		return head, err
	}
	defer func() { _ = f.Close() }() // Sync reported any write error
	w := bufio.NewWriter(f)
	for _, r := range recs {
		r.validUTF8()
		r.Sequence, r.Prev = head.Sequence+1, head.Digest
		r.Digest = r.digest()
		line, err := json.Marshal(r)
		if err != nil {
			return head, err
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return head, err
		}
		head = r
	}
	if err := w.Flush(); err != nil {
		return head, err
	}
	return head, f.Sync()
}

// Head is the domain's newest record; the zero Record when it has none.
func (s *Store) Head(ctx context.Context, domain string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tail(ctx, domain)
	return t.head, err
}

// tail reads the domain's newest segment the first time. A last line cut short (the process
// died while writing it, before the API server heard the batch was kept, so it sends the
// batch again) is cut off first. With nothing on the volume (a new volume, or every day
// shipped), the chain goes on from the newest archived segment.
func (s *Store) tail(ctx context.Context, domain string) (tail, error) {
	if s.tails == nil {
		s.tails = map[string]tail{}
	}
	if t, ok := s.tails[domain]; ok {
		return t, nil
	}
	segs, err := s.segments(ctx, domain)
	if err != nil {
		return tail{}, err
	}
	var t tail
	for ; len(segs) > 0 && t.head.Sequence == 0; segs = segs[:len(segs)-1] {
		seg := segs[len(segs)-1]
		if !seg.local {
			if t.head, err = s.lastOf(ctx, domain, seg.name); err != nil {
				return tail{}, err
			}
			break
		}
		path := filepath.Join(s.Dir, domain, seg.name)
		complete, err := readFile(path, func(r Record) error { t.head = r; return nil })
		if err != nil {
			return tail{}, err
		}
		if complete == 0 {
			err = os.Remove(path) // nothing but a torn line: the next record starts a segment anew
		} else {
			t.segment, err = path, os.Truncate(path, complete)
		}
		if err != nil {
			return tail{}, err
		}
	}
	s.tails[domain] = t
	return t, nil
}

// segment is one day of a domain's records, named after its first record's number.
type segment struct {
	name  string
	local bool // on the volume (too); otherwise only in the archive
}

// segments lists a domain's segments, on the volume and in the archive, oldest first.
func (s *Store) segments(ctx context.Context, domain string) ([]segment, error) {
	// The name becomes a path: what is not a domain's name (a query's "..") reads nothing.
	if errs := validation.IsDNS1123Subdomain(domain); len(errs) > 0 {
		return nil, fmt.Errorf("domain %q: %s", domain, strings.Join(errs, "; "))
	}
	files, err := filepath.Glob(filepath.Join(s.Dir, domain, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	local := map[string]bool{}
	names := make([]string, 0, len(files))
	for _, f := range files {
		local[filepath.Base(f)] = true
		names = append(names, filepath.Base(f))
	}
	if s.Archive != nil {
		archived, err := s.Archive.names(ctx, domain)
		if err != nil {
			return nil, err
		}
		names = append(names, archived...)
	}
	slices.Sort(names)
	segs := make([]segment, 0, len(names))
	for _, n := range slices.Compact(names) {
		segs = append(segs, segment{name: n, local: local[n]})
	}
	return segs, nil
}

// openSegment reads a segment from the volume, or from the archive when it is there only (or
// was shipped since it was listed).
func (s *Store) openSegment(ctx context.Context, domain string, seg segment) (io.ReadCloser, error) {
	if seg.local {
		f, err := os.Open(filepath.Join(s.Dir, domain, seg.name)) //nolint:gosec // a segment of the store's own directory
		if err == nil || s.Archive == nil || !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
	}
	if s.Archive == nil {
		return nil, fmt.Errorf("segment %s of %s: %w", seg.name, domain, os.ErrNotExist)
	}
	return s.Archive.open(ctx, domain, seg.name)
}

// Due is what retention removes from a domain's records: the segments whose every record is
// older than retention allows, oldest first and never the newest; the last record they hold,
// the point the domain's status keeps before Remove takes them; and when the oldest segment
// left falls due (zero when only the newest is left).
type Due struct {
	Through  Record
	Segments []string
	Next     time.Time
}

// Retention finds what is due at now when records are kept for days. A sealed segment (any but
// the newest: records are only ever appended to the newest) is read once for its last record.
func (s *Store) Retention(ctx context.Context, domain string, days int, now time.Time) (Due, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	segs, err := s.segments(ctx, domain)
	if err != nil {
		return Due{}, err
	}
	var due Due
	for _, seg := range segs[:max(len(segs)-1, 0)] {
		last, err := s.lastOf(ctx, domain, seg.name)
		if err != nil {
			return Due{}, err
		}
		if expires := last.Time.AddDate(0, 0, days); expires.After(now) {
			due.Next = expires
			break
		}
		due.Through, due.Segments = last, append(due.Segments, seg.name)
	}
	return due, nil
}

// lastOf is a sealed segment's last record, read the first time.
func (s *Store) lastOf(ctx context.Context, domain, name string) (Record, error) {
	k := key(domain, name)
	if last, ok := s.sealed[k]; ok {
		return last, nil
	}
	var last Record
	if err := s.readSegment(ctx, domain, segment{name: name, local: true}, func(r Record) error { last = r; return nil }); err != nil {
		return Record{}, err
	}
	if s.sealed == nil {
		s.sealed = map[string]Record{}
	}
	s.sealed[k] = last
	return last, nil
}

// Remove removes the segments Retention found due, once the domain's status keeps the point
// they reach, from the volume and the archive. The archive refuses while their retention holds.
func (s *Store) Remove(ctx context.Context, domain string, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if err := os.Remove(filepath.Join(s.Dir, domain, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if s.Archive != nil {
			if err := s.Archive.remove(ctx, domain, n); err != nil {
				return err
			}
		}
		delete(s.sealed, key(domain, n))
	}
	return nil
}

// Ship moves the domain's sealed segments from the volume into the archive, each retained until
// its last record's retention (days) runs out, and returns how many it moved. A segment already
// due stays for Retention to remove; the newest stays, since records are appended to it.
func (s *Store) Ship(ctx context.Context, domain string, days int, now time.Time) (int, error) {
	if s.Archive == nil {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	segs, err := s.segments(ctx, domain)
	if err != nil {
		return 0, err
	}
	shipped := 0
	for _, seg := range segs[:max(len(segs)-1, 0)] {
		if !seg.local {
			continue
		}
		last, err := s.lastOf(ctx, domain, seg.name)
		if err != nil {
			return shipped, err
		}
		until := last.Time.AddDate(0, 0, days)
		if !until.After(now) {
			continue
		}
		file := filepath.Join(s.Dir, domain, seg.name)
		if err := s.Archive.put(ctx, domain, seg.name, file, until); err != nil {
			return shipped, err
		}
		if err := os.Remove(file); err != nil {
			return shipped, err
		}
		shipped++
	}
	return shipped, nil
}

// Read calls each with every record of the domain, oldest first. A last line still being
// written is not read.
func (s *Store) Read(ctx context.Context, domain string, each func(Record) error) error {
	segs, err := s.segments(ctx, domain)
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if err := s.readSegment(ctx, domain, seg, each); err != nil {
			return err
		}
	}
	return nil
}

// Query selects a domain's records: each filter given must match.
type Query struct {
	// Workspace: requests made with a member credential of this DeveloperWorkspace.
	Workspace string
	// Person: requests of this real-name person.
	Person string
	// Grant: requests on this DataGrant, and its token's uses by data services.
	Grant string
	// Since and Until: records at or after Since and before Until.
	Since, Until time.Time
	// After passes over the records up to this number: where the page before ended.
	After int64
	// Limit ends a page after this many records; 0 reads to the end.
	Limit int
}

// Match says whether r is one of the records q selects.
func (q Query) Match(r Record) bool {
	switch {
	case r.Sequence <= q.After,
		q.Workspace != "" && r.Workspace != q.Workspace,
		q.Person != "" && r.Person != q.Person,
		q.Grant != "" && (r.Resource != "datagrants" || r.Name != q.Grant),
		!q.Since.IsZero() && r.Time.Before(q.Since),
		!q.Until.IsZero() && !r.Time.Before(q.Until):
		return false
	}
	return true
}

// errPageFull ends a read once a page has its records.
var errPageFull = errors.New("page full")

// Find returns the domain's records that q selects, oldest first, and whether more follow the
// page. The segments wholly before q.After are not read.
func (s *Store) Find(ctx context.Context, domain string, q Query) ([]Record, bool, error) {
	segs, err := s.segments(ctx, domain)
	if err != nil {
		return nil, false, err
	}
	var found []Record
	more := false
	for i, seg := range segs {
		if i+1 < len(segs) && firstOf(segs[i+1]) <= q.After+1 {
			continue
		}
		err := s.readSegment(ctx, domain, seg, func(r Record) error {
			if !q.Match(r) {
				return nil
			}
			if q.Limit > 0 && len(found) == q.Limit {
				more = true
				return errPageFull
			}
			found = append(found, r)
			return nil
		})
		if errors.Is(err, errPageFull) {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	return found, more, nil
}

// firstOf is the number of a segment's first record, which names it.
func firstOf(seg segment) int64 {
	n, err := strconv.ParseInt(strings.TrimSuffix(seg.name, ".jsonl"), 10, 64)
	if err != nil {
		return math.MaxInt64 // not a segment's name: read it rather than skip it
	}
	return n
}

// readSegment calls each with the records of one segment.
func (s *Store) readSegment(ctx context.Context, domain string, seg segment, each func(Record) error) error {
	in, err := s.openSegment(ctx, domain, seg)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	_, err = read(in, key(domain, seg.name), each)
	return err
}

// readFile reads the records of a segment on the volume and returns how many bytes of it are
// complete lines.
func readFile(path string, each func(Record) error) (int64, error) {
	f, err := os.Open(path) //nolint:gosec // a segment of the store's own directory
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	return read(f, path, each)
}

// read reads the records of a segment and returns how many bytes of it are complete lines.
func read(segment io.Reader, name string, each func(Record) error) (int64, error) {
	in := bufio.NewReader(segment)
	var complete int64
	for {
		line, err := in.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return complete, nil // a partial last line is still being written
		}
		if err != nil {
			return complete, err
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return complete, fmt.Errorf("%s, byte %d: %w", name, complete, err)
		}
		if err := each(r); err != nil {
			return complete, err
		}
		complete += int64(len(line))
	}
}

// Verify checks the domain's records: numbered without a gap from the one after pruned (the
// last removed for retention, as the domain's status keeps it), each digest its own and each
// linked to the one before, and, when anchor names a record, that record kept as anchored. It
// returns the number of the last record it checked, and the first break. Records up to pruned
// may still be there (the status keeps the point before they go, and an archive refuses while
// its lock holds): they are passed over, the pruned one itself checked against the status.
func (s *Store) Verify(ctx context.Context, domain string, anchor, pruned Anchor) (int64, error) {
	prev := Record{Sequence: pruned.Sequence, Digest: pruned.Digest}
	err := s.Read(ctx, domain, func(r Record) error {
		if r.Sequence <= pruned.Sequence {
			if r.Sequence == pruned.Sequence && r.Digest != pruned.Digest {
				return fmt.Errorf("record %d is not the one the domain's status says was pruned: the records were rewritten", r.Sequence)
			}
			return nil
		}
		if r.Sequence == anchor.Sequence && r.Digest != anchor.Digest {
			return fmt.Errorf("record %d is not the one anchored in the domain's status: the records were rewritten", r.Sequence)
		}
		switch {
		case r.Sequence != prev.Sequence+1:
			return fmt.Errorf("record %d follows record %d: records are missing or inserted", r.Sequence, prev.Sequence)
		case r.Prev != prev.Digest:
			return fmt.Errorf("record %d does not link to record %d", r.Sequence, prev.Sequence)
		case r.Digest != r.digest():
			return fmt.Errorf("record %d was altered: its digest does not match its content", r.Sequence)
		}
		prev = r
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err == nil && prev.Sequence < anchor.Sequence {
		err = fmt.Errorf("records %d to %d are missing from the end: the domain's status anchored record %d", prev.Sequence+1, anchor.Sequence, anchor.Sequence)
	}
	return prev.Sequence, err
}

// Anchor is a record as the domain's status keeps it; the zero Anchor checks nothing, or, as
// the pruning point, says nothing was pruned.
type Anchor struct {
	Sequence int64
	Digest   string
}
