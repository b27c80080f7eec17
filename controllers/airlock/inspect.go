package airlock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/productcheck"
)

// CheckSpec is what the inspection checks: a product's type, what it declares about its table,
// the fields the catalog marks sensitive in the resources of its grants, and the domain's
// thresholds; or, for data coming in, whether personal information is declared.
type CheckSpec struct {
	Type        opv1.ProductType         `json:"type,omitempty"`
	Declaration productcheck.Declaration `json:"declaration"`
	Policy      productcheck.Policy      `json:"policy"`
	Import      *ImportCheck             `json:"import,omitempty"`
}

// ImportCheck asks for the checks of outside data coming in (R4) instead of a product's.
type ImportCheck struct {
	// PersonalInformation: the import declares personal information and its legal basis.
	PersonalInformation bool `json:"personalInformation"`
}

func (c CheckSpec) encode() (string, error) {
	raw, err := json.Marshal(c)
	return string(raw), err
}

// Inspection is what an inspecting pod reports: the file's digest and size and, when it was
// asked to check, the checks' report on those very bytes.
type Inspection struct {
	SHA256 string            `json:"sha256"`
	Size   int64             `json:"size"`
	Checks *opv1.CheckReport `json:"checks,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// reportLimit keeps an inspection's JSON inside the 4096 bytes the kubelet keeps of a
// termination message, with room to spare.
const reportLimit = 3600

// Inspect digests the file at path, at most limit bytes, and with spec runs the checks on the
// same bytes: an import's (productcheck.Import), or a product's: a Dataset as a table with a
// header row (a table that does not parse fails), any other type by the identifier scan, for a
// reviewer to judge. The whole report is returned;
// Trim fits it into a termination message.
func Inspect(path string, limit int64, spec *CheckSpec, now time.Time) (Inspection, error) {
	f, err := os.Open(path) //nolint:gosec // the sealed copy this pod was started to inspect
	if err != nil {
		return Inspection{}, err
	}
	defer func() { _ = f.Close() }()
	digest := sha256.New()
	var data bytes.Buffer
	var sink io.Writer = digest
	if spec != nil {
		// The checks read what was digested, not a second read of a file that could differ.
		sink = io.MultiWriter(digest, &data)
	}
	n, err := io.Copy(sink, io.LimitReader(f, limit+1))
	if err != nil {
		return Inspection{}, err
	}
	if n > limit {
		return Inspection{}, fmt.Errorf("the artifact is larger than the %d bytes it may have", limit)
	}
	in := Inspection{SHA256: hex.EncodeToString(digest.Sum(nil)), Size: n}
	if spec == nil {
		return in, nil
	}
	var report productcheck.Report
	if spec.Import != nil {
		report = productcheck.Import(data.Bytes(), productcheck.ImportDefaults, spec.Import.PersonalInformation)
	} else if spec.Type == opv1.ProductDataset {
		if report, err = productcheck.CSV(&data, spec.Policy, spec.Declaration); err != nil {
			report = productcheck.Report{Findings: []productcheck.Finding{{Check: productcheck.CheckNotTabular, Outcome: productcheck.Fail,
				Message: "a Dataset is a CSV table with a header row: " + err.Error()}}}
		}
	} else {
		report = productcheck.Text(data.Bytes())
	}
	rec, err := report.Record(in.SHA256, metav1.NewTime(now.UTC().Truncate(time.Second)))
	if err != nil {
		return Inspection{}, err
	}
	in.Checks = &rec
	return in, nil
}

// Trim drops findings from the end, saying how many, until the inspection's JSON fits a
// termination message. The outcome and the report's digest, taken over every finding, stay.
func (in Inspection) Trim() Inspection {
	if in.Checks == nil {
		return in
	}
	checks := *in.Checks
	all := checks.Findings
	for keep := len(all); keep >= 0; keep-- {
		checks.Findings = all[:keep:keep]
		if dropped := len(all) - keep; dropped > 0 {
			checks.Findings = append(checks.Findings, opv1.CheckFinding{Check: "More", Outcome: checks.Outcome,
				Message: fmt.Sprintf("%d more finding(s) in the report %s", dropped, checks.ReportSHA256)})
		}
		in.Checks = &checks
		if raw, _ := json.Marshal(in); len(raw) <= reportLimit {
			return in
		}
	}
	return in
}
