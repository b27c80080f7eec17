package airlock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/productcheck"
)

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), artifactFile)
	if err := os.WriteFile(path, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
	return path
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// R5: the airlock's digest is of the bytes it holds, and the checks judge those same bytes.
func TestR5_InspectDigestsAndChecksTheSameBytes(t *testing.T) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	dataset := &CheckSpec{Type: opv1.ProductDataset, Policy: productcheck.Defaults}
	for _, tc := range []struct {
		name, content string
		spec          *CheckSpec
		outcome       string
		check         string
	}{
		{"a clean aggregate passes", "district,count\nXuanwu,120\nQinhuai,85\n", dataset, "Pass", ""},
		{"a count of 3 fails", "district,count\nXuanwu,120\nQinhuai,3\n", dataset, "Fail", productcheck.CheckSmallCount},
		{"a resident ID fails", "district,id\nXuanwu,110101199003074514\n", dataset, "Fail", productcheck.CheckIdentifiers},
		{"a Dataset that is no table fails", "district,count\nXuanwu,120,7\n", dataset, "Fail", productcheck.CheckNotTabular},
		{"a report goes to a person", "The congestion fell by a fifth.", &CheckSpec{Type: opv1.ProductReport}, "Review", productcheck.CheckNotTabular},
		{"verify only digests", "anything", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inspect(write(t, tc.content), 1<<20, tc.spec, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.SHA256 != digestOf(tc.content) || got.Size != int64(len(tc.content)) {
				t.Fatalf("digest %s size %d, want %s %d", got.SHA256, got.Size, digestOf(tc.content), len(tc.content))
			}
			if tc.spec == nil {
				if got.Checks != nil {
					t.Fatalf("verify ran checks: %+v", got.Checks)
				}
				return
			}
			if got.Checks.Outcome != tc.outcome || got.Checks.SHA256 != got.SHA256 {
				t.Fatalf("checks %+v, want outcome %s on %s", got.Checks, tc.outcome, got.SHA256)
			}
			if tc.check != "" && (len(got.Checks.Findings) == 0 || got.Checks.Findings[0].Check != tc.check) {
				t.Fatalf("findings %+v, want %s first", got.Checks.Findings, tc.check)
			}
			// A finding names columns and rows, never a value.
			if raw, _ := json.Marshal(got); strings.Contains(string(raw), "110101199003074514") {
				t.Fatalf("the report carries the identifier: %s", raw)
			}
		})
	}
	if _, err := Inspect(write(t, strings.Repeat("x", 2048)), 1024, nil, now); err == nil {
		t.Fatal("an artifact over the limit was inspected")
	}
}

// Trim fits a report of many findings into a termination message and says how many it left out.
func TestTrimFitsATerminationMessage(t *testing.T) {
	report := productcheck.Report{}
	for i := range 200 {
		report.Findings = append(report.Findings, productcheck.Finding{Check: productcheck.CheckSmallCount, Outcome: productcheck.Fail,
			Column: fmt.Sprintf("count_%03d", i), Rows: []int{1, 2, 3}, Message: "3 count(s) between 1 and 9"})
	}
	rec, err := report.Record(digestOf("x"), metav1.Now())
	if err != nil {
		t.Fatal(err)
	}
	trimmed := Inspection{SHA256: digestOf("x"), Size: 1, Checks: &rec}.Trim()
	raw, _ := json.Marshal(trimmed)
	if len(raw) > reportLimit {
		t.Fatalf("trimmed report is %d bytes", len(raw))
	}
	kept := trimmed.Checks.Findings
	last := kept[len(kept)-1]
	if len(kept) < 10 || last.Check != "More" || !strings.Contains(last.Message, fmt.Sprintf("%d more", 200-len(kept)+1)) ||
		!strings.Contains(last.Message, rec.ReportSHA256) || trimmed.Checks.Outcome != "Fail" || trimmed.Checks.ReportSHA256 != rec.ReportSHA256 {
		t.Fatalf("200 findings trimmed to %d, ending %+v", len(kept), last)
	}
	if len(rec.Findings) != 200 {
		t.Fatal("Trim changed the full report")
	}
}
