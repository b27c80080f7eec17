package records

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// R8, fuzzed: whatever the records say, a chain written by the store verifies, and any byte of
// a record's content changed is caught.
func FuzzR8_AnyChangeToARecordIsCaught(f *testing.F) {
	f.Add("create", "configmaps", "model-params", uint8(3), uint16(40))
	f.Add("patch", "datagrants", "congestion", uint8(1), uint16(7))
	f.Fuzz(func(t *testing.T, verb, resource, name string, count uint8, flip uint16) {
		dir := t.TempDir()
		s := &Store{Dir: dir}
		at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
		var recs []Record
		for i := range int(count%5) + 1 {
			recs = append(recs, Record{Time: at.Add(time.Duration(i) * time.Second), Verb: verb, Resource: resource, Name: name, Code: 200})
		}
		if err := s.Append(t.Context(), "d", recs); err != nil {
			t.Fatal(err)
		}
		if _, err := (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{}); err != nil {
			t.Fatalf("an untouched chain: %v", err)
		}
		segs, err := segmentFiles(dir, "d")
		if err != nil || len(segs) != 1 {
			t.Fatalf("segments %v: %v", segs, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "d", segs[0]))
		if err != nil {
			t.Fatal(err)
		}
		// Change one character of a record's content (not a line's end, which only reshapes
		// the file), keeping the line valid JSON: a letter of the verb.
		lines := strings.SplitAfter(string(raw), "\n")
		line := int(flip) % len(recs)
		tampered := strings.Replace(lines[line], `"verb":"`, `"verb":"x`, 1)
		lines[line] = tampered
		if err := os.WriteFile(filepath.Join(dir, "d", segs[0]), []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := (&Store{Dir: dir}).Verify(t.Context(), "d", Anchor{}, Anchor{}); err == nil {
			t.Fatalf("record %d changed, the chain still verifies", line+1)
		}
	})
}
