package integration

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/records"
)

// R8, R7: a domain's records are read through the API server (the records' API, an aggregated
// API the manager serves) by whoever RBAC lets get operationrecords named after the domain, with
// `kubectl opdomain records`: filtered, paged, as a table or JSON. A stranger, and a reader of
// another domain, are refused; each read is itself a record. The manager's port, reached around
// the API server, answers no one the front proxy does not vouch for, and authorizes again whom
// it vouches for.
func TestR8_RecordsAreReadThroughTheAPIServerByWhomRBACAllows(t *testing.T) {
	g := NewWithT(t)
	kubectl := kubectlWithPlugin(t)
	w := newWorld(t, "rec4", opv1.NetworkPolicyKubernetes, 30*24*time.Hour)
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))
	for _, name := range []string{"params-a", "params-b", "params-c"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.wsNamespace()}}
		g.Expect(memberClient(t, w).Create(ctx, cm)).To(Succeed())
	}
	g.Eventually(func() []records.Record { return recordsOf(t, "rec4") }, 5*time.Second, poll).Should(
		ContainElement(And(HaveField("Name", "params-c"), HaveField("Person", member))))

	const regulator, stranger = "rec4-regulator", "rec4-stranger"
	readerOf(t, regulator, "rec4")
	out, err := kubectl("records", "rec4", "--workspace", w.ws.Name, "--as", regulator)
	g.Expect(err).NotTo(HaveOccurred(), out)
	t.Logf("kubectl opdomain records rec4 --workspace %s:\n%s", w.ws.Name, out)
	g.Expect(out).To(And(MatchRegexp(`SEQ\s+TIME\s+WHO\s+VERB\s+OBJECT\s+RESULT`),
		MatchRegexp(member+` \(`+w.ws.Name+`\)\s+create\s+configmaps/`+w.wsNamespace()+`/params-a\s+201 allow`)))
	out, err = kubectl("records", "rec4", "--person", member, "--since", "1h", "-o", "json", "--as", regulator)
	g.Expect(err).NotTo(HaveOccurred(), out)
	var found []records.Record
	g.Expect(json.Unmarshal([]byte(out), &found)).To(Succeed(), out)
	g.Expect(found).To(ContainElements(HaveField("Name", "params-a"), HaveField("Name", "params-b"), HaveField("Name", "params-c")))
	g.Expect(found).To(HaveEach(HaveField("Person", member)))
	// Paged: the plugin reads on until it has --limit, each page after the last.
	out, err = kubectl("records", "rec4", "--person", member, "--limit", "2", "-o", "json", "--as", regulator)
	g.Expect(err).NotTo(HaveOccurred(), out)
	var two []records.Record
	g.Expect(json.Unmarshal([]byte(out), &two)).To(Succeed(), out)
	g.Expect(two).To(Equal(found[:2]))
	// Plain kubectl prints them too: the API answers kubectl's request for a Table.
	get := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "--kubeconfig", newVerifier(t).kubeconfig,
		"get", records.APIResource+"."+records.APIGroup, "rec4", "--as", regulator)
	raw, err := get.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(raw))
	g.Expect(string(raw)).To(And(MatchRegexp(`SEQ\s+TIME\s+WHO\s+VERB\s+OBJECT\s+RESULT`),
		MatchRegexp(member+` \(`+w.ws.Name+`\)\s+create\s+configmaps/`+w.wsNamespace()+`/params-b\s+201 allow`)))
	out, err = kubectl("records", "rec4", "--since", "yesterday", "--as", regulator)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("--since: want RFC 3339 or a duration"))

	out, err = kubectl("records", "rec4", "--as", stranger)
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(`User "rec4-stranger" cannot get resource "operationrecords"`))
	other := newDomain(t, "rec4-other", opv1.NetworkPolicyKubernetes)
	out, err = kubectl("records", other.Name, "--as", regulator)
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("forbidden"), "a reader of rec4 reads no other domain's records")
	out, err = kubectl("records", "rec4-nowhere", "--as", stranger)
	g.Expect(err).To(HaveOccurred(), out)

	// Reading records is an operation on the domain too: the reads, and the stranger's refusal.
	g.Eventually(func() []records.Record { return recordsOf(t, "rec4") }, 5*time.Second, poll).Should(ContainElements(
		And(HaveField("User", regulator), HaveField("Impersonator", "admin"), HaveField("Verb", "get"),
			HaveField("APIGroup", records.APIGroup), HaveField("Resource", records.APIResource), HaveField("Name", "rec4"), HaveField("Code", BeEquivalentTo(200))),
		And(HaveField("User", stranger), HaveField("Resource", records.APIResource), HaveField("Decision", "forbid"), HaveField("Code", BeEquivalentTo(403))),
	))
	g.Eventually(func() []records.Record { return recordsOf(t, other.Name) }, 5*time.Second, poll).Should(
		ContainElement(And(HaveField("User", regulator), HaveField("Decision", "forbid"))), "the refused read is the other domain's record")
	g.Expect(filepath.Join(recordsDir, "rec4-nowhere")).NotTo(BeADirectory(), "a read naming no domain opens no records")

	// Around the API server, straight to the manager's port.
	direct := func(withFrontProxy bool, user, query string) (int, string) {
		config := cp.WebhookTLS()
		if withFrontProxy {
			cert, err := tls.LoadX509KeyPair(cp.FrontProxy.CertFile, cp.FrontProxy.KeyFile)
			g.Expect(err).NotTo(HaveOccurred())
			config.Certificates = []tls.Certificate{cert}
		}
		url := cp.WebhookURL(fmt.Sprintf("/apis/%s/%s/%s/rec4%s", records.APIGroup, records.APIVersion, records.APIResource, query))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("X-Remote-User", user)
		if !withFrontProxy {
			req.Header.Set("X-Remote-Group", "system:masters")
		}
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: config}}).Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := direct(false, "system:admin", "")
	g.Expect(code).To(Equal(http.StatusUnauthorized), "headers alone, without the front proxy's certificate: %s", body)
	code, body = direct(true, stranger, "")
	g.Expect(code).To(Equal(http.StatusForbidden), "the manager authorizes whom the front proxy vouches for: %s", body)
	code, body = direct(true, regulator, "?limit=1")
	g.Expect(code).To(Equal(http.StatusOK), body)
	var page records.OperationRecords
	g.Expect(json.Unmarshal([]byte(body), &page)).To(Succeed())
	g.Expect(page.Records).To(HaveLen(1))
	g.Expect(page.Continue).To(Equal(strconv.FormatInt(page.Records[0].Sequence, 10)))
	code, body = direct(true, regulator, "?limit=1&continue="+page.Continue)
	g.Expect(code).To(Equal(http.StatusOK), body)
	var next records.OperationRecords
	g.Expect(json.Unmarshal([]byte(body), &next)).To(Succeed())
	g.Expect(next.Records).To(HaveLen(1))
	g.Expect(next.Records[0].Sequence).To(BeNumerically(">", page.Records[0].Sequence))
	code, body = direct(true, regulator, "?until=tomorrow")
	g.Expect(code).To(Equal(http.StatusBadRequest))
	g.Expect(body).To(ContainSubstring("parameter until: want a time in RFC 3339"))
}

// readerOf lets user get the operation records of domain, and nothing else.
func readerOf(t *testing.T, user, domain string) {
	t.Helper()
	g := NewWithT(t)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{records.APIGroup}, Resources: []string{records.APIResource}, ResourceNames: []string{domain}, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	g.Expect(k8s.Create(ctx, role)).To(Succeed())
	g.Expect(k8s.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() {
		_ = k8s.Delete(ctx, binding)
		_ = k8s.Delete(ctx, role)
	})
}
