// Package records keeps a domain's operation records (R8): every request the API server handled
// on a domain's namespaces, by a domain's members or on opdomain's kinds, as its audit webhook
// backend delivers it, appended to a per-domain file in which each record carries the digest of
// the one before it, so that a record edited, removed or inserted shows.
package records

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Record is one operation, as the API server audited it.
type Record struct {
	// Sequence numbers a domain's records from 1.
	Sequence int64     `json:"seq"`
	Time     time.Time `json:"time"`
	AuditID  string    `json:"auditID"`
	// User is the identity that made the request; Person the real-name person a member's
	// credential stands for.
	User   string `json:"user"`
	Person string `json:"person,omitempty"`
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
	// Prev is the digest of the record before; Digest this one's, over Prev and every field
	// above.
	Prev   string `json:"prev"`
	Digest string `json:"digest"`
}

// digest is the record's digest: SHA-256 over its JSON without the digest itself.
func (r Record) digest() string {
	r.Digest = ""
	b, _ := json.Marshal(r) // a struct of strings, numbers and a time: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Store appends records to one file per domain under Dir. One process writes a Dir.
type Store struct {
	Dir string

	mu    sync.Mutex
	heads map[string]Record // the last record of each domain's file, read once
}

// file is where a domain's records are kept.
func (s *Store) file(domain string) string { return filepath.Join(s.Dir, domain, "records.jsonl") }

// Append numbers and chains recs after the domain's last record and appends them, synced to
// disk before it returns.
func (s *Store) Append(domain string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	head, err := s.head(domain)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.file(domain)), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.file(domain), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // Sync reported any write error
	w := bufio.NewWriter(f)
	for _, r := range recs {
		r.Sequence, r.Prev = head.Sequence+1, head.Digest
		r.Digest = r.digest()
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		head = r
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	s.heads[domain] = head
	return nil
}

// head is the domain's last record, read from its file the first time. A last line cut short
// (the process died while writing it, before the API server heard the batch was kept, so it
// sends the batch again) is cut off first.
func (s *Store) head(domain string) (Record, error) {
	if s.heads == nil {
		s.heads = map[string]Record{}
	}
	if h, ok := s.heads[domain]; ok {
		return h, nil
	}
	var last Record
	complete, err := read(s.file(domain), func(r Record) error { last = r; return nil })
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Record{}, err
	default:
		if err := os.Truncate(s.file(domain), complete); err != nil {
			return Record{}, err
		}
	}
	s.heads[domain] = last
	return last, nil
}

// Read calls each with every record of the domain under dir, oldest first. A last line still
// being written is not read.
func Read(dir, domain string, each func(Record) error) error {
	_, err := read(filepath.Join(dir, domain, "records.jsonl"), each)
	return err
}

// read reads the records of a file and returns how many bytes of it are complete lines.
func read(path string, each func(Record) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	in := bufio.NewReader(f)
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
			return complete, fmt.Errorf("%s, byte %d: %w", path, complete, err)
		}
		if err := each(r); err != nil {
			return complete, err
		}
		complete += int64(len(line))
	}
}

// Verify checks the domain's records under dir: numbered from 1 without a gap, each digest its
// own and each linked to the one before. It returns how many it checked, and the first break.
func Verify(dir, domain string) (int64, error) {
	var prev Record
	err := Read(dir, domain, func(r Record) error {
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
	return prev.Sequence, err
}
