package records

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
)

// R8: records are chained across restarts of the writer, and a line cut short by a crash is
// neither read nor built upon.
func TestR8_RecordsChainAcrossRestartsAndSurviveATornWrite(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	g.Expect((&Store{Dir: dir}).Append("d", []Record{{Verb: "create"}, {Verb: "delete"}})).To(Succeed())
	file := filepath.Join(dir, "d", "records.jsonl")
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = f.WriteString(`{"seq":3,"verb":"upd`) // torn
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Close()).To(Succeed())

	n, err := Verify(dir, "d")
	g.Expect(err).NotTo(HaveOccurred(), "a line still being written is not read")
	g.Expect(n).To(BeEquivalentTo(2))
	g.Expect((&Store{Dir: dir}).Append("d", []Record{{Verb: "patch"}})).To(Succeed(), "a restarted writer")
	var verbs []string
	g.Expect(Read(dir, "d", func(r Record) error { verbs = append(verbs, r.Verb); return nil })).To(Succeed())
	g.Expect(verbs).To(Equal([]string{"create", "delete", "patch"}))
	n, err = Verify(dir, "d")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(3))
}
