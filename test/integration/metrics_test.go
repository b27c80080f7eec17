package integration

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/controlplane"
)

// R2: the manager's metrics are served over HTTPS only to a caller the API server
// authenticates and authorizes for /metrics (the shipped ClusterRole metrics-reader); they show
// the domain's agreements and workspaces by phase and its credentials' expiry, and after a
// suspension the cut histogram holds the time from the suspension to the agreement's gates
// closed.
func TestR2_MetricsAreAuthorizedAndMeasureTheCut(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "met1", opv1.NetworkPolicyKubernetes)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "metrics_reader_role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	reader := &rbacv1.ClusterRole{}
	g.Expect(yaml.Unmarshal(raw, reader)).To(Succeed())
	reader.Name = "met1-metrics-reader"
	g.Expect(k8s.Create(ctx, reader)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, reader) })

	cs, err := kubernetes.NewForConfig(cp.Config)
	g.Expect(err).NotTo(HaveOccurred())
	tokenOfAccount := func(name string) string {
		g.Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})).To(Succeed())
		tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	scraper, stranger := tokenOfAccount("met1-scraper"), tokenOfAccount("met1-stranger")
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "met1-scraper"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "met1-scraper", Namespace: "default"}}}
	g.Expect(k8s.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, binding) })

	// The certificate is the manager's own, self-signed: what is proven here is who may read.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+metricsAddr+"/metrics", nil)
		g.Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		g.Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(body)
	}
	code, _ := scrape("")
	g.Expect(code).To(Equal(http.StatusUnauthorized), "no credentials")
	code, _ = scrape(stranger)
	g.Expect(code).To(Equal(http.StatusForbidden), "authenticated, not allowed /metrics")
	// count is a series' value in a scrape by the reader, 0 before it is first observed.
	count := func(series string) func() int {
		pattern := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`)
		return func() int {
			code, body := scrape(scraper)
			g.Expect(code).To(Equal(http.StatusOK))
			m := pattern.FindStringSubmatch(body)
			if m == nil {
				return 0
			}
			n, err := strconv.Atoi(m[1])
			g.Expect(err).NotTo(HaveOccurred())
			return n
		}
	}
	suspensionCuts := count(`opdomain_access_cut_seconds_count{boundary="suspension"}`)
	before := suspensionCuts()

	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady), "the agreement's gates are open")
	state := func() string { _, body := scrape(scraper); return body }
	g.Eventually(state, timeout, poll).Should(And(
		ContainSubstring(`opdomain_agreements{domain="met1",phase="Active"} 2`),
		ContainSubstring(`opdomain_workspaces{domain="met1",phase="Ready"} 1`),
		MatchRegexp(`opdomain_credential_expiry_timestamp_seconds\{domain="met1",member="[^"]+",workspace="acme-dev"\} \d`),
		ContainSubstring(`opdomain_emergency_stop{domain="met1"} 0`),
		ContainSubstring(`opdomain_evidence_chain_intact{domain="met1"} 1`),
	), "the domain's state, read from the manager's cache")
	// A grant's paths: cut when the grant is deleted, and when its agreement is suspended.
	grantCuts, agreementCuts := count(`opdomain_grant_cut_seconds_count{boundary="grant"}`), count(`opdomain_grant_cut_seconds_count{boundary="agreement"}`)
	beforeGrant, beforeAgreement := grantCuts(), agreementCuts()
	deleted, kept := w.grant("congestion"), w.grant("weather")
	for _, gr := range []*opv1.DataGrant{deleted, kept} {
		g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
		g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
	}
	g.Expect(k8s.Delete(ctx, deleted)).To(Succeed())
	g.Eventually(grantCuts, timeout, poll).Should(BeNumerically(">", beforeGrant), "a deleted grant's cut is measured")

	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(suspensionCuts, timeout, poll).Should(BeNumerically(">", before), "the suspension's cut is measured")
	g.Eventually(grantPhase(kept), timeout, poll).Should(Equal(opv1.GrantSuspended))
	g.Eventually(agreementCuts, timeout, poll).Should(BeNumerically(">", beforeAgreement), "and so is its grant's")
	g.Eventually(state, timeout, poll).Should(And(
		ContainSubstring(`opdomain_agreements{domain="met1",phase="Suspended"} 1`),
		ContainSubstring(`opdomain_workspaces{domain="met1",phase="Suspended"} 1`),
	))

	// A parent's suspension ends its children's access: their cut counts from it.
	parentCuts := count(`opdomain_access_cut_seconds_count{boundary="parent"}`)
	beforeParent := parentCuts()
	setSuspension(t, w.developer, nil)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseActive))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))
	setSuspension(t, w.operator, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseSuspended))
	g.Eventually(parentCuts, timeout, poll).Should(BeNumerically(">", beforeParent), "the parent's suspension's cut is measured for its child")

	// A teardown's steps are timed.
	steps := count(`opdomain_teardown_step_seconds_count{step="namespace"}`)
	torn := steps()
	g.Expect(k8s.Delete(ctx, w.ws)).To(Succeed())
	g.Eventually(steps, 2*timeout, poll).Should(BeNumerically(">", torn), "the last step of the teardown is timed")
}
