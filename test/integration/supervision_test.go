package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/disclosure"
)

// patchDomain tries to change the domain's spec and returns what the API server said.
func patchDomain(d *opv1.OperationDomain, change func(*opv1.OperationDomainSpec)) error {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		return err
	}
	patch := client.MergeFrom(d.DeepCopy())
	change(&d.Spec)
	return k8s.Patch(ctx, d, patch)
}

// R7: a security incident is recorded on its domain; until it is reported to the authority the
// domain says so (IncidentUnreported and a Warning Event); an incident is a record (never
// removed, its type and detection never changed, frozen once reported); an emergency stop names
// the incident that caused it, which must be one of the domain's.
func TestR7_IncidentsAreRecordedReportedAndNamedByTheStop(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "inc1", opv1.NetworkPolicyKubernetes)
	detected := metav1.NewTime(clock.Now().Add(-time.Hour))
	setPolicy(t, d, func(s *opv1.OperationDomainSpec) {
		s.Incidents = []opv1.Incident{{ID: "2026-001", Type: opv1.IncidentUnauthorizedAccess, DetectedAt: detected,
			Note: "a member token used from an unknown address"}}
	})
	g.Eventually(conditionText(d, opv1.ConditionIncidentUnreported), timeout, poll).
		Should(And(HavePrefix("True/"+opv1.ReasonIncidentUnreported), ContainSubstring("2026-001 (UnauthorizedAccess")))

	for what, change := range map[string]func(*opv1.OperationDomainSpec){
		"removed":        func(s *opv1.OperationDomainSpec) { s.Incidents = nil },
		"retyped":        func(s *opv1.OperationDomainSpec) { s.Incidents[0].Type = opv1.IncidentOther },
		"detected later": func(s *opv1.OperationDomainSpec) { s.Incidents[0].DetectedAt = metav1.NewTime(detected.Add(time.Hour)) },
		"reported too early": func(s *opv1.OperationDomainSpec) {
			s.Incidents[0].ReportedAt = &metav1.Time{Time: detected.Add(-time.Minute)}
		},
		"stopped for nothing": func(s *opv1.OperationDomainSpec) {
			s.EmergencyStop = opv1.EmergencyStop{Active: true, Incident: "2026-999"}
		},
		"named, not stopped": func(s *opv1.OperationDomainSpec) { s.EmergencyStop = opv1.EmergencyStop{Incident: "2026-001"} },
	} {
		err := patchDomain(d, change)
		g.Expect(err).To(HaveOccurred(), what)
		g.Expect(err.Error()).To(Or(ContainSubstring("spec.incidents is a record"), ContainSubstring("reportedAt cannot be before detectedAt"),
			ContainSubstring("spec.emergencyStop.incident")), what)
	}

	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) {
		s.EmergencyStop = opv1.EmergencyStop{Active: true, Reason: "incident 2026-001", Incident: "2026-001"}
	})).To(Succeed())
	g.Eventually(conditionText(d, opv1.ConditionEmergencyStop), timeout, poll).Should(HavePrefix("True/"))

	reported := metav1.NewTime(clock.Now())
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) {
		s.Incidents[0].ReportedAt, s.Incidents[0].Reporter = &reported, "Wang Wu, security officer of the operator entity"
	})).To(Succeed())
	g.Eventually(conditionText(d, opv1.ConditionIncidentUnreported), timeout, poll).Should(HavePrefix("False/"))
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) { s.Incidents[0].Note = "nothing happened" })).
		To(MatchError(ContainSubstring("spec.incidents is a record")), "frozen once reported")
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) { s.EmergencyStop = opv1.EmergencyStop{} })).To(Succeed())
}

// R7: the manager serves the disclosure page without credentials, read-only: the JSON names the
// domain's authority, its agreements' parties with their credit codes, roles, scopes, terms and
// phases, and its catalog; the HTML shows the same; nothing secret is on either.
func TestR7_TheDisclosurePageIsServedReadOnlyWithoutCredentials(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "disc1", opv1.NetworkPolicyKubernetes)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + disclosureAddr + path)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		g.Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(body)
	}
	// The page reads the manager's cache, which may trail the world's last writes a moment.
	domain := func() disclosure.Domain {
		var page disclosure.Page
		code, body := get("/disclosure.json")
		g.Expect(code).To(Equal(http.StatusOK), body)
		g.Expect(json.Unmarshal([]byte(body), &page)).To(Succeed())
		i := slices.IndexFunc(page.Domains, func(d disclosure.Domain) bool { return d.Name == "disc1" })
		if i < 0 {
			return disclosure.Domain{}
		}
		return page.Domains[i]
	}
	g.Eventually(domain, timeout, poll).Should(And(
		HaveField("Authority", w.domain.Spec.Authority.Name),
		HaveField("Rulebook", "Jiangsu"),
		HaveField("Agreements", ContainElement(And(HaveField("Name", "acme"), HaveField("Party", w.developer.Spec.Party.Name),
			HaveField("CreditCode", w.developer.Spec.Party.CreditCode), HaveField("Role", "Developer"), HaveField("Parent", "operator"),
			HaveField("Resources", ConsistOf("traffic-flow", "weather")), HaveField("Phase", "Active")))),
		HaveField("Catalog", ContainElement(disclosure.Resource{Name: "traffic-flow", Level: 2, Provider: w.traffic.Spec.Provider})),
	))

	code, html := get("/")
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(html).To(And(ContainSubstring(`id="domain-disc1"`), ContainSubstring(w.developer.Spec.Party.Name)))
	for _, secret := range []string{member, "road_id", "plate"} {
		g.Expect(html).NotTo(ContainSubstring(secret))
	}
	resp, err := http.Post("http://"+disclosureAddr+"/disclosure.json", "application/json", strings.NewReader("{}"))
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed), "read-only")
}

// R7: when a year ends (in Beijing) the domain keeps its disclosure, as /disclosure.json serves
// it, in its evidence chain; a new domain owes none for the year before it. Each snapshot is
// chained like any record, so verify-evidence vouches for it.
func TestR7_TheDisclosureIsKeptAsEvidenceEveryYear(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "disc2", opv1.NetworkPolicyKubernetes)
	snapshots := func() []opv1.DisclosureEvidence {
		var out []opv1.DisclosureEvidence
		var list opv1.TeardownRecordList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(w.control()), client.MatchingLabels{opv1.LabelDomain: "disc2"})).To(Succeed())
		for _, rec := range list.Items {
			if rec.Spec.Event == "Disclosed" {
				g.Expect(rec.Spec.Subject.Kind).To(Equal("Disclosure"))
				out = append(out, *rec.Spec.Disclosure)
			}
		}
		slices.SortFunc(out, func(a, b opv1.DisclosureEvidence) int { return int(a.Year - b.Year) })
		return out
	}
	disclosedThrough := func() int32 {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		return w.domain.Status.Evidence.DisclosedThrough
	}
	year, next := disclosure.Year(clock.Now())
	g.Eventually(disclosedThrough, timeout, poll).Should(Equal(year-1), "nothing owed for the year before the domain")
	g.Expect(snapshots()).To(BeEmpty())

	clock.Step(next.Sub(clock.Now()) + time.Second)
	g.Eventually(snapshots, timeout, poll).Should(ConsistOf(HaveField("Year", year)), "kept when the year ended")
	snap := snapshots()[0]
	sum := sha256.Sum256([]byte(snap.Document))
	g.Expect(hex.EncodeToString(sum[:])).To(Equal(snap.SHA256))
	var kept disclosure.Domain
	g.Expect(json.Unmarshal([]byte(snap.Document), &kept)).To(Succeed())
	g.Expect(kept.Name).To(Equal("disc2"))
	g.Expect(kept.Agreements).To(ContainElement(And(HaveField("Name", "acme"), HaveField("Party", w.developer.Spec.Party.Name))))
	g.Expect(kept.Catalog).To(ContainElement(HaveField("Name", "traffic-flow")))
	g.Eventually(disclosedThrough, timeout, poll).Should(Equal(year))
	g.Consistently(snapshots, 2*time.Second, poll).Should(HaveLen(1), "once a year")

	_, next = disclosure.Year(clock.Now())
	clock.Step(next.Sub(clock.Now()) + time.Second)
	g.Eventually(snapshots, timeout, poll).Should(HaveLen(2), "and at the end of the next")
	g.Expect(snapshots()[1].Year).To(Equal(year + 1))
	code, out := newVerifier(t).run(t, "disc2")
	g.Expect(code).To(BeZero(), out)
}
