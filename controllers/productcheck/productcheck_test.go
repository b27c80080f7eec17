package productcheck

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

func TestR5_IdentifierScanFindsCheckedIdentifiersOnly(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string
	}{
		{"11010519491231002X", ResidentID},
		{"110101199003074514", ResidentID},
		{"lower-case check x: 11010519491231002x", ResidentID},
		{"110101199003074515", ""},             // wrong check digit
		{"110101209913314514", ""},             // a birth date in the future fails before its check digit matters
		{"电话13800138000，请回电", Mobile},          // bounded by Chinese text
		{"12800138000", ""},                    // no mobile prefix 12
		{"id 2138001380001", ""},               // a mobile number inside a longer number is none
		{"card 6222021234567890128", BankCard}, // UnionPay, Luhn holds
		{"4111111111111111", BankCard},
		{"6222021234567890127", ""},                 // Luhn fails
		{"1763210011223344556", ""},                 // a nanosecond timestamp is no card
		{"write to li.si@acme.example", Email},      //
		{"91320100MA1CPRAT0P", CreditCode},          // check character holds
		{"91320100MA1CPRAT0X", ""},                  // it does not
		{"0123456789ABCDEF0123456789ABCDEF", ""},    // a hex digest has no 18-character word
		{"road_id,hour,speed\nG2-17,08,54.2\n", ""}, // an aggregate
	} {
		t.Run(tc.text, func(t *testing.T) {
			found := ScanIdentifiers(tc.text)
			if tc.want == "" {
				if len(found) != 0 {
					t.Fatalf("found %v in %q", found, tc.text)
				}
				return
			}
			if len(found) != 1 || found[0].Kind != tc.want || found[0].Count != 1 {
				t.Fatalf("want one %s in %q, found %v", tc.want, tc.text, found)
			}
		})
	}
}

// findings runs CSV with the defaults and returns "Check/Outcome/Column/rows" per finding.
func findings(t *testing.T, data string, d Declaration) []string {
	t.Helper()
	r, err := CSV(strings.NewReader(data), Defaults, d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range r.Findings {
		if strings.Contains(f.Message, "1101") || strings.Contains(f.Message, "138") {
			t.Fatalf("a finding quotes a value: %q", f.Message)
		}
		out = append(out, fmt.Sprintf("%s/%s/%s/%v", f.Check, f.Outcome, f.Column, f.Rows))
	}
	return out
}

func TestR5_TableChecks(t *testing.T) {
	many := func(header string, row func(i int) string, n int) string {
		var b strings.Builder
		b.WriteString(header + "\n")
		for i := range n {
			b.WriteString(row(i) + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		data string
		decl Declaration
		want []string
	}{
		{name: "a clean aggregate passes",
			data: "district,hour,count\nXuanwu,08,120\nXuanwu,09,85\nQinhuai,08,40\n",
			want: nil},
		{name: "a resident ID fails, naming the column and row",
			data: "district,holder\nXuanwu,11010519491231002X\nQinhuai,none\n",
			want: []string{"Identifiers/Fail/holder/[1]"}},
		{name: "a mobile number fails",
			data: "name,contact\nshop,13800138000\n",
			want: []string{"Identifiers/Fail/contact/[1]"}},
		{name: "a credit code goes to a person",
			data: "company,code\nAcme,91320100MA1CPRAT0P\n",
			want: []string{"Identifiers/Review/code/[1]"}},
		{name: "a count of 5 fails; a structural zero does not",
			data: "district,count\nXuanwu,120\nQinhuai,5\nGulou,0\n",
			want: []string{"SmallCount/Fail/count/[2]"}},
		{name: "an unrounded count fails",
			data: "district,count\nXuanwu,120\nQinhuai,43\n",
			want: []string{"UnroundedCount/Fail/count/[2]"}},
		{name: "a count column is known by its Chinese name",
			data: "区,人数\n玄武,7\n",
			want: []string{"SmallCount/Fail/人数/[1]", "UnroundedCount/Fail/人数/[1]"}},
		{name: "a declared count column is checked whatever its name",
			data: "district,vehicles\nXuanwu,12\n", decl: Declaration{Counts: []string{"vehicles"}},
			want: []string{"UnroundedCount/Fail/vehicles/[1]"}},
		{name: "a count column holding something else goes to a person",
			data: "district,count\nXuanwu,12.5\n",
			want: []string{"NotACount/Review/count/[1]"}},
		{name: "a sensitive field of the grants' catalog fails",
			data: "road_id,Plate\nG2,x\n", decl: Declaration{Sensitive: []string{"plate"}},
			want: []string{"SensitiveColumn/Fail/Plate/[]"}},
		{name: "a combination of quasi-identifiers shared by fewer than 10 rows fails",
			data: many("age,district,score", func(i int) string {
				if i == 15 {
					return "71,Gulou,1"
				}
				return "30,Xuanwu,1"
			}, 16),
			decl: Declaration{QuasiIdentifiers: []string{"age", "district"}},
			want: []string{"KAnonymity/Fail/age,district/[16]"}},
		{name: "a group where two contributors make up 90 % of the total fails",
			data: "sector,turnover\nsteel,1000\nsteel,900\nsteel,10\nsteel,10\nfood,100\nfood,100\nfood,100\nfood,100\n",
			decl: Declaration{QuasiIdentifiers: []string{"sector"}, Magnitude: "turnover"},
			want: []string{"KAnonymity/Fail/sector/[1 5]", "Dominance/Fail/turnover/[1]"}},
		{name: "a long table with an all-distinct column goes to a person",
			data: many("trip,district", func(i int) string { return fmt.Sprintf("T%04d,Xuanwu", i) }, 60),
			want: []string{"RawRecords/Review/trip/[]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findings(t, tc.data, tc.decl)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("findings\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestR5_ReportOutcome(t *testing.T) {
	for _, tc := range []struct {
		findings []Finding
		want     Outcome
	}{
		{nil, ""},
		{[]Finding{{Outcome: Review}}, Review},
		{[]Finding{{Outcome: Review}, {Outcome: Fail}}, Fail},
	} {
		if got := (Report{Findings: tc.findings}).Outcome(); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.findings, got, tc.want)
		}
	}
}

func TestR5_TextAlwaysGoesToAPersonAndFailsOnIdentifiers(t *testing.T) {
	clean := Text([]byte("a report on congestion, district by district"))
	if clean.Outcome() != Review {
		t.Fatalf("a clean text: %v", clean.Findings)
	}
	leaky := Text([]byte("contact Li Si at 13800138000"))
	if leaky.Outcome() != Fail || leaky.Findings[0].Rows != nil {
		t.Fatalf("a text with a mobile number: %+v", leaky.Findings)
	}
}

func TestR5_TableErrorsNameTheColumn(t *testing.T) {
	for _, tc := range []struct {
		data string
		decl Declaration
		want string
	}{
		{"a,b\n1,2\n", Declaration{QuasiIdentifiers: []string{"age"}}, `no column "age"`},
		{"a,turnover\n1,much\n", Declaration{Magnitude: "turnover"}, `column "turnover", row 1`},
		{"", Declaration{}, "header"},
	} {
		_, err := CSV(strings.NewReader(tc.data), Defaults, tc.decl)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.data, err, tc.want)
		}
	}
}

func TestR5_DomainThresholdsBecomeThePolicy(t *testing.T) {
	if got := PolicyOf(opv1.ProductChecks{}); got != Defaults {
		t.Fatalf("unset thresholds: got %+v, want the defaults %+v", got, Defaults)
	}
	got := PolicyOf(opv1.ProductChecks{MinCount: 20, DominancePercent: 80})
	if got.MinCount != 20 || got.DominanceShare != 0.8 || got.K != Defaults.K {
		t.Fatalf("got %+v", got)
	}
}

func TestR5_TheRecordKeepsTheOutcomeTheFindingsAndTheReportsDigest(t *testing.T) {
	r, err := CSV(strings.NewReader("district,count\nXuanwu,5\n"), Defaults, Declaration{})
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.Now()
	rec, err := r.Record("aa", at)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != "Fail" || len(rec.Findings) != 1 || rec.Findings[0].Check != CheckSmallCount || rec.Findings[0].Rows[0] != 1 {
		t.Fatalf("record %+v", rec)
	}
	again, _ := r.Record("aa", at)
	if len(rec.ReportSHA256) != 64 || again.ReportSHA256 != rec.ReportSHA256 {
		t.Fatalf("the report's digest is %q, then %q: it must be stable", rec.ReportSHA256, again.ReportSHA256)
	}
	other, _ := r.Record("bb", at)
	if other.ReportSHA256 == rec.ReportSHA256 {
		t.Fatal("the report's digest does not cover the digest checked")
	}
	clean, _ := Report{}.Record("aa", at)
	if clean.Outcome != "Pass" {
		t.Fatalf("nothing found: %q", clean.Outcome)
	}
}
