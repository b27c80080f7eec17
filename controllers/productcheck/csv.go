// Package productcheck runs the automatic checks a data product passes before any person
// reviews it (R5): identifiers in any product, and for tables (CSV) the statistical disclosure
// checks of practice — sensitive columns, small and unrounded counts, k-anonymity over
// quasi-identifiers, dominance, and columns that look like raw records. It is pure: bytes and
// a policy in, a report out. A report names checks, columns and row numbers, never a cell's
// value, so that it may be shown and stored where the data may not.
package productcheck

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Policy holds the thresholds, a domain's policy; Defaults are practice's.
type Policy struct {
	// MinCount is the smallest count a table may publish; 0 < count < MinCount fails.
	MinCount int
	// Rounding is the base counts must be multiples of; 0 or 1 checks nothing.
	Rounding int
	// K is the smallest group of rows sharing the quasi-identifiers' values.
	K int
	// DominanceN and DominanceShare: in a group, the N largest contributions to the magnitude
	// may not exceed this share of its total.
	DominanceN     int
	DominanceShare float64
	// RawRecordRows and RawRecordDistinct: a table of at least this many rows whose column
	// has at least this share of distinct values looks like records, not an aggregate.
	RawRecordRows     int
	RawRecordDistinct float64
}

// Defaults are the thresholds of practice: a minimum cell count of 10 (ACRO's threshold), counts
// rounded to 5 (OpenSAFELY's rounding), groups of at least 10 rows, the (2, 90 %) dominance
// rule (ACRO's N-K rule), and 50 rows with 95 % distinct values for a record-like column.
var Defaults = Policy{MinCount: 10, Rounding: 5, K: 10, DominanceN: 2, DominanceShare: 0.9, RawRecordRows: 50, RawRecordDistinct: 0.95}

// PolicyOf is a domain's thresholds as a Policy; a threshold left unset is practice's.
func PolicyOf(c opv1.ProductChecks) Policy {
	or := func(v int32, def int) int {
		if v <= 0 {
			return def
		}
		return int(v)
	}
	percent := func(v int32, def float64) float64 {
		if v <= 0 {
			return def
		}
		return float64(v) / 100
	}
	return Policy{
		MinCount: or(c.MinCount, Defaults.MinCount), Rounding: or(c.Rounding, Defaults.Rounding), K: or(c.K, Defaults.K),
		DominanceN: or(c.DominanceN, Defaults.DominanceN), DominanceShare: percent(c.DominancePercent, Defaults.DominanceShare),
		RawRecordRows: or(c.RawRecordRows, Defaults.RawRecordRows), RawRecordDistinct: percent(c.RawRecordDistinctPercent, Defaults.RawRecordDistinct),
	}
}

// Declaration is what the product and its grants say about a table.
type Declaration struct {
	// Sensitive are the fields the catalog marks sensitive in the resources of the grants used.
	Sensitive []string
	// Counts are columns of counts; columns named like counts (count, n, 人数…) are counts too.
	Counts []string
	// QuasiIdentifiers are columns that together may single a person out.
	QuasiIdentifiers []string
	// Magnitude is a column of contributions (income, turnover) for the dominance rule.
	Magnitude string
}

// Outcome is what a finding asks for.
type Outcome string

const (
	// Fail returns the product to its submitter.
	Fail Outcome = "Fail"
	// Review passes the product to a person, who must look at this.
	Review Outcome = "Review"
)

// Checks, as findings name them.
const (
	CheckIdentifiers     = "Identifiers"
	CheckSensitiveColumn = "SensitiveColumn"
	CheckSmallCount      = "SmallCount"
	CheckUnroundedCount  = "UnroundedCount"
	CheckNotACount       = "NotACount"
	CheckKAnonymity      = "KAnonymity"
	CheckDominance       = "Dominance"
	CheckRawRecords      = "RawRecords"
	CheckNotTabular      = "NotTabular"
)

// Finding is one check that did not pass.
type Finding struct {
	Check   string
	Outcome Outcome
	// Column, when the finding is about one.
	Column string
	// Rows are the first data rows concerned (1 is the first row under the header), at most
	// maxRows of them.
	Rows    []int
	Message string
}

// Report is what the checks found.
type Report struct {
	Rows, Columns int
	Findings      []Finding
}

// Outcome is Fail when any finding fails, Review when any asks for a person, else "".
func (r Report) Outcome() Outcome {
	out := Outcome("")
	for _, f := range r.Findings {
		if f.Outcome == Fail {
			return Fail
		}
		out = Review
	}
	return out
}

// maxRows bounds the rows a finding lists.
const maxRows = 10

// countName matches the headers of count columns.
var countName = regexp.MustCompile(`(?i)^(n|count|counts|cnt|num|number|freq|frequency|人数|数量|计数|频数|人次)$`)

// Text checks a product that is not a table: the identifier scan, and a person always looks.
func Text(data []byte) Report {
	r := Report{Findings: identifierFindings([]string{string(data)}, "")}
	r.Findings = append(r.Findings, Finding{Check: CheckNotTabular, Outcome: Review,
		Message: "not a table: the statistical checks do not apply, a reviewer must judge the content"})
	return r
}

// CSV checks a table with a header row.
func CSV(data io.Reader, p Policy, d Declaration) (Report, error) {
	reader := csv.NewReader(data)
	reader.FieldsPerRecord = 0
	header, err := reader.Read()
	if err != nil {
		return Report{}, fmt.Errorf("reading the header: %w", err)
	}
	var rows [][]string
	for {
		row, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Report{}, err
		}
		rows = append(rows, row)
	}
	t := table{header: header, rows: rows}
	r := Report{Rows: len(rows), Columns: len(header)}
	add := func(f ...Finding) { r.Findings = append(r.Findings, f...) }
	for c, name := range header {
		add(identifierFindings(t.column(c), name)...)
		if slices.ContainsFunc(d.Sensitive, func(s string) bool { return strings.EqualFold(strings.TrimSpace(name), s) }) {
			add(Finding{Check: CheckSensitiveColumn, Outcome: Fail, Column: name,
				Message: "the catalog marks this field sensitive in a resource the product was made from"})
		}
		if countName.MatchString(strings.TrimSpace(name)) || slices.Contains(d.Counts, name) {
			add(t.counts(c, p)...)
		}
		if f, ok := t.recordLike(c, p); ok {
			add(f)
		}
	}
	if len(d.QuasiIdentifiers) > 0 {
		f, err := t.kAnonymity(d.QuasiIdentifiers, p)
		if err != nil {
			return Report{}, err
		}
		add(f...)
	}
	if d.Magnitude != "" {
		f, err := t.dominance(d.Magnitude, d.QuasiIdentifiers, p)
		if err != nil {
			return Report{}, err
		}
		add(f...)
	}
	return r, nil
}

// identifierFindings scans cells (a column's, or a whole document as one) and fails on every
// kind of personal identifier found; a credit code names an entity, which a person judges.
// Rows are listed for a column.
func identifierFindings(cells []string, column string) []Finding {
	counts, rows := map[string]int{}, map[string][]int{}
	for i, cell := range cells {
		for _, id := range ScanIdentifiers(cell) {
			counts[id.Kind] += id.Count
			rows[id.Kind] = appendRow(rows[id.Kind], i)
		}
	}
	var out []Finding
	for _, kind := range kinds {
		if counts[kind] == 0 {
			continue
		}
		f := Finding{Check: CheckIdentifiers, Outcome: Fail, Column: column, Message: fmt.Sprintf("%d %s value(s)", counts[kind], kind)}
		if column != "" {
			f.Rows = rows[kind]
		}
		if kind == CreditCode {
			f.Outcome = Review
			f.Message += ": an entity's public identifier; a reviewer decides whether it may leave"
		}
		out = append(out, f)
	}
	return out
}

type table struct {
	header []string
	rows   [][]string
}

func (t table) cell(row, c int) string {
	if c < len(t.rows[row]) {
		return strings.TrimSpace(t.rows[row][c])
	}
	return ""
}

func (t table) column(c int) []string {
	out := make([]string, len(t.rows))
	for i := range t.rows {
		out[i] = t.cell(i, c)
	}
	return out
}

func (t table) index(name string) (int, error) {
	for c, h := range t.header {
		if strings.TrimSpace(h) == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("the table has no column %q", name)
}

// counts checks a count column: every count is at least MinCount (zero is a structural empty
// cell, not a person) and a multiple of Rounding; a value that is no count asks for a person.
func (t table) counts(c int, p Policy) []Finding {
	name := t.header[c]
	small := Finding{Check: CheckSmallCount, Outcome: Fail, Column: name}
	unrounded := Finding{Check: CheckUnroundedCount, Outcome: Fail, Column: name}
	notCount := Finding{Check: CheckNotACount, Outcome: Review, Column: name}
	var nSmall, nUnrounded, nNot int
	for i := range t.rows {
		v := t.cell(i, c)
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n != math.Trunc(n) || n < 0 {
			nNot++
			notCount.Rows = appendRow(notCount.Rows, i)
			continue
		}
		if n > 0 && int(n) < p.MinCount {
			nSmall++
			small.Rows = appendRow(small.Rows, i)
		}
		if p.Rounding > 1 && int64(n)%int64(p.Rounding) != 0 {
			nUnrounded++
			unrounded.Rows = appendRow(unrounded.Rows, i)
		}
	}
	var out []Finding
	if nSmall > 0 {
		small.Message = fmt.Sprintf("%d count(s) between 1 and %d", nSmall, p.MinCount-1)
		out = append(out, small)
	}
	if nUnrounded > 0 {
		unrounded.Message = fmt.Sprintf("%d count(s) not a multiple of %d", nUnrounded, p.Rounding)
		out = append(out, unrounded)
	}
	if nNot > 0 {
		notCount.Message = fmt.Sprintf("%d value(s) of a count column are not whole numbers: a reviewer checks what they count", nNot)
		out = append(out, notCount)
	}
	return out
}

// recordLike says whether column c looks like one value per person: a long table whose column
// is almost all distinct. A person decides; a measurement may be distinct too.
func (t table) recordLike(c int, p Policy) (Finding, bool) {
	if p.RawRecordRows <= 0 || len(t.rows) < p.RawRecordRows {
		return Finding{}, false
	}
	distinct := map[string]bool{}
	for i := range t.rows {
		distinct[t.cell(i, c)] = true
	}
	share := float64(len(distinct)) / float64(len(t.rows))
	if share < p.RawRecordDistinct {
		return Finding{}, false
	}
	return Finding{Check: CheckRawRecords, Outcome: Review, Column: t.header[c],
		Message: fmt.Sprintf("%.0f %% of %d rows have distinct values: this column may be record-level data", share*100, len(t.rows))}, true
}

// groups groups the rows by the values of the given columns.
func (t table) groups(columns []string) (map[string][]int, []string, error) {
	idx := make([]int, len(columns))
	for i, name := range columns {
		c, err := t.index(name)
		if err != nil {
			return nil, nil, err
		}
		idx[i] = c
	}
	groups := map[string][]int{}
	var order []string
	for i := range t.rows {
		key := make([]string, len(idx))
		for j, c := range idx {
			key[j] = t.cell(i, c)
		}
		k := strings.Join(key, "\x00")
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	return groups, order, nil
}

// kAnonymity fails when some combination of the quasi-identifiers' values is shared by fewer
// than K rows.
func (t table) kAnonymity(quasi []string, p Policy) ([]Finding, error) {
	groups, order, err := t.groups(quasi)
	if err != nil {
		return nil, err
	}
	f := Finding{Check: CheckKAnonymity, Outcome: Fail, Column: strings.Join(quasi, ",")}
	small := 0
	for _, k := range order {
		if rows := groups[k]; len(rows) < p.K {
			small++
			f.Rows = appendRow(f.Rows, rows[0])
		}
	}
	if small == 0 {
		return nil, nil
	}
	f.Message = fmt.Sprintf("%d of %d combinations of the quasi-identifiers are shared by fewer than %d rows", small, len(groups), p.K)
	return []Finding{f}, nil
}

// dominance fails a group (by the quasi-identifiers, or the whole table) whose N largest
// contributions make up more than the allowed share of its total.
func (t table) dominance(magnitude string, by []string, p Policy) ([]Finding, error) {
	c, err := t.index(magnitude)
	if err != nil {
		return nil, err
	}
	groups, order, err := t.groups(by)
	if err != nil {
		return nil, err
	}
	f := Finding{Check: CheckDominance, Outcome: Fail, Column: magnitude}
	dominated := 0
	for _, k := range order {
		var values []float64
		total := 0.0
		for _, i := range groups[k] {
			v, err := strconv.ParseFloat(t.cell(i, c), 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("column %q, row %d: a magnitude must be a non-negative number", magnitude, i+1)
			}
			values = append(values, v)
			total += v
		}
		slices.Sort(values)
		slices.Reverse(values)
		top := 0.0
		for _, v := range values[:min(p.DominanceN, len(values))] {
			top += v
		}
		if total > 0 && top > p.DominanceShare*total {
			dominated++
			f.Rows = appendRow(f.Rows, groups[k][0])
		}
	}
	if dominated == 0 {
		return nil, nil
	}
	f.Message = fmt.Sprintf("in %d group(s) the %d largest contributions exceed %.0f %% of the total", dominated, p.DominanceN, p.DominanceShare*100)
	return []Finding{f}, nil
}

func appendRow(rows []int, i int) []int {
	if len(rows) < maxRows {
		rows = append(rows, i+1)
	}
	return rows
}

// Record is the report as a product's status keeps it: the digest checked, the outcome (Pass
// when nothing was found), the findings, and the SHA-256 of the report's JSON, which evidence
// keeps.
func (r Report) Record(sha256Hex string, at metav1.Time) (opv1.CheckReport, error) {
	rec := opv1.CheckReport{SHA256: sha256Hex, Outcome: string(r.Outcome()), At: at}
	if rec.Outcome == "" {
		rec.Outcome = string(opv1.CheckPass)
	}
	for _, f := range r.Findings {
		rows := make([]int32, len(f.Rows))
		for i, row := range f.Rows {
			rows[i] = int32(row) //nolint:gosec // row numbers of an artifact capped far below 2^31 bytes
		}
		rec.Findings = append(rec.Findings, opv1.CheckFinding{Check: f.Check, Outcome: string(f.Outcome), Column: f.Column, Rows: rows, Message: f.Message})
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return opv1.CheckReport{}, err
	}
	sum := sha256.Sum256(raw)
	rec.ReportSHA256 = hex.EncodeToString(sum[:])
	return rec, nil
}
