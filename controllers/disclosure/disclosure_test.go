package disclosure

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// R7: the disclosure names who is authorized, for what, until when, and how it ended; the
// catalog without fields; the products published, with the delisted ones' date and reason, and
// none never published; the chain heads; and nothing secret (fields, persons, documents).
func TestR7_TheDisclosureShowsWhatTheTextsAskAndNothingSecret(t *testing.T) {
	g := NewWithT(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ended := metav1.NewTime(t0.AddDate(0, 6, 0))
	d := &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "jiangsu"},
		Spec:   opv1.OperationDomainSpec{Authority: opv1.Authority{Name: "Jiangsu Provincial Data Bureau"}, Rulebook: opv1.RulebookJiangsu},
		Status: opv1.OperationDomainStatus{Evidence: opv1.EvidenceStatus{Head: opv1.ChainLink{Sequence: 7, Digest: "e7"}}}}
	agreements := []opv1.Authorization{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: opv1.AuthorizationSpec{Role: opv1.RoleDeveloper, Parent: "operator",
			Party:     opv1.Party{Name: "Acme Analytics", CreditCode: "91320100MA1ABCDE2J"},
			Term:      opv1.Term{Start: metav1.NewTime(t0), End: metav1.NewTime(t0.AddDate(1, 0, 0))},
			Scope:     opv1.Scope{Resources: []string{"traffic-flow"}, Scenarios: []string{"congestion"}},
			Persons:   []opv1.Person{{Name: "Li Si", User: "lisi@acme.example"}},
			Agreement: &opv1.AgreementDocument{URI: "https://docs.example/secret-terms.pdf", SHA256: strings.Repeat("a", 64)}},
			Status: opv1.AuthorizationStatus{Phase: opv1.PhaseTerminated, EndReason: opv1.EndBreach, EndedAt: &ended}},
	}
	catalog := []opv1.DataResource{{ObjectMeta: metav1.ObjectMeta{Name: "traffic-flow"},
		Spec: opv1.DataResourceSpec{Provider: "Provincial Transport Department", Level: 2, Fields: []opv1.Field{{Name: "plate_number", Sensitive: true}}}}}
	published := opv1.PublishedCopy{Location: "jiangsu-outbox/x", SHA256: "p1", At: metav1.NewTime(t0.AddDate(0, 2, 0))}
	products := []opv1.DataProduct{
		{ObjectMeta: metav1.ObjectMeta{Name: "congestion-v1"},
			Spec:   opv1.DataProductSpec{Type: "Model", Recipients: []opv1.Recipient{{Name: "City Traffic Bureau"}, {Name: "Overseas Ltd.", Foreign: true}}},
			Status: opv1.DataProductStatus{Phase: opv1.ProductPublished, Published: &published}},
		{ObjectMeta: metav1.ObjectMeta{Name: "congestion-v0"}, Spec: opv1.DataProductSpec{Type: "Dataset"},
			Status: opv1.DataProductStatus{Phase: opv1.ProductDelisted, Published: &published,
				ArtifactStatus: opv1.ArtifactStatus{Ended: &opv1.ProductEnd{At: ended, Reason: "AgreementEnded"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "never"}, Status: opv1.DataProductStatus{Phase: opv1.ProductReturned}},
	}
	got := Disclose(d, agreements, catalog, products)
	g.Expect(got.Authority).To(Equal("Jiangsu Provincial Data Bureau"))
	g.Expect(got.Agreements).To(ConsistOf(Agreement{Name: "acme", Party: "Acme Analytics", CreditCode: "91320100MA1ABCDE2J", Role: "Developer",
		Parent: "operator", Resources: []string{"traffic-flow"}, Scenarios: []string{"congestion"}, Start: t0, End: t0.AddDate(1, 0, 0),
		Phase: "Terminated", EndReason: "Breach", EndedAt: &ended.Time}))
	g.Expect(got.Catalog).To(Equal([]Resource{{Name: "traffic-flow", Level: 2, Provider: "Provincial Transport Department"}}))
	g.Expect(got.Products).To(HaveLen(2), "never published, never disclosed")
	g.Expect(got.Products[0]).To(And(HaveField("Name", "congestion-v0"), HaveField("DelistReason", "AgreementEnded"), HaveField("DelistedAt", Not(BeNil()))))
	g.Expect(got.Products[1].Recipients).To(Equal([]Recipient{{Name: "City Traffic Bureau"}, {Name: "Overseas Ltd.", Foreign: true}}))
	g.Expect(got.Evidence).To(Equal(Link{7, "e7"}))

	js, err := json.Marshal(got)
	g.Expect(err).NotTo(HaveOccurred())
	var html strings.Builder
	g.Expect(pageTemplate.Execute(&html, Page{Generated: t0, Domains: []Domain{got}})).To(Succeed())
	for _, out := range []string{string(js), html.String()} {
		g.Expect(out).To(And(ContainSubstring("Acme Analytics"), ContainSubstring("91320100MA1ABCDE2J"), ContainSubstring("Overseas Ltd.")))
		for _, secret := range []string{"plate_number", "lisi@acme.example", "Li Si", "secret-terms", "jiangsu-outbox"} {
			g.Expect(out).NotTo(ContainSubstring(secret))
		}
	}
	g.Expect(html.String()).To(ContainSubstring("Terminated (Breach, 2026-09-01)"))
}

// R7: the disclosure year turns at midnight in Beijing, not at midnight UTC.
func TestR7_TheDisclosureYearTurnsAtMidnightInBeijing(t *testing.T) {
	g := NewWithT(t)
	newYear := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) // 2027-01-01 00:00 in Beijing
	year, next := Year(newYear.Add(-time.Second))
	g.Expect(year).To(BeEquivalentTo(2026))
	g.Expect(next.Equal(newYear)).To(BeTrue(), "next year starts %s", next)
	year, next = Year(newYear)
	g.Expect(year).To(BeEquivalentTo(2027))
	g.Expect(next.Equal(newYear.AddDate(1, 0, 0))).To(BeTrue())
}

// R7: a snapshot keeps the document /disclosure.json serves, with its digest; one too large for
// a record keeps the digest alone.
func TestR7_ASnapshotKeepsTheDocumentOrItsDigestAlone(t *testing.T) {
	g := NewWithT(t)
	d := Domain{Name: "jiangsu", Agreements: []Agreement{{Name: "acme", Party: "Acme Analytics"}}}
	s := Snapshot(d, 2027)
	var back Domain
	g.Expect(json.Unmarshal([]byte(s.Document), &back)).To(Succeed())
	g.Expect(back.Agreements).To(Equal(d.Agreements))
	g.Expect(s.SHA256).To(HaveLen(64))

	for i := range maxDocument / 40 {
		d.Catalog = append(d.Catalog, Resource{Name: strings.Repeat("r", 20) + string(rune('a'+i%26)), Level: 1})
	}
	big := Snapshot(d, 2027)
	g.Expect(big.Document).To(BeEmpty())
	g.Expect(big.SHA256).To(HaveLen(64))
	g.Expect(big.SHA256).NotTo(Equal(s.SHA256))
}
