package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/records"
)

// recordsOf reads the domain's operation records.
func recordsOf(t testing.TB, domain string) []records.Record {
	t.Helper()
	var out []records.Record
	if err := records.Read(recordsDir, domain, func(r records.Record) error { out = append(out, r); return nil }); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// R8: what happens in a domain becomes its records within seconds, through the API server's own
// audit (the harness starts it with the shipped policy and webhook backend): a member's create,
// with the person behind the credential; a member's exec, denied; the operator's opening of a
// grant. Records are chained: one edited or removed is caught, and by verify-evidence.
func TestR8_OperationsBecomeChainedRecordsWithinSeconds(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "rec1", opv1.NetworkPolicyKubernetes)
	ns := w.wsNamespace()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "model-params", Namespace: ns}, Data: map[string]string{"k": "10"}}
	g.Expect(memberClient(t, w.world).Create(ctx, cm)).To(Succeed())
	cs, err := kubernetes.NewForConfig(memberConfig(t, w.world))
	g.Expect(err).NotTo(HaveOccurred())
	err = cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name("anything").SubResource("exec").
		Param("command", "cat").Param("stdout", "true").Do(ctx).Error()
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))

	g.Eventually(func() []records.Record { return recordsOf(t, "rec1") }, 5*time.Second, poll).Should(ContainElements(
		And(HaveField("Verb", "create"), HaveField("Resource", "configmaps"), HaveField("Namespace", ns), HaveField("Name", "model-params"),
			HaveField("Person", member), HaveField("Workspace", w.ws.Name), HaveField("Decision", "allow"), HaveField("Code", BeEquivalentTo(201))),
		And(HaveField("Verb", "create"), HaveField("Resource", "pods"), HaveField("Subresource", "exec"), HaveField("Person", member),
			HaveField("Decision", "forbid"), HaveField("Code", BeEquivalentTo(403))),
		And(HaveField("User", operatorUser), HaveField("Verb", BeElementOf("create", "patch")), HaveField("Resource", "networkpolicies"),
			HaveField("Name", HavePrefix("opdomain-grant-congestion"))),
	))
	for _, r := range recordsOf(t, "rec1") {
		g.Expect(r.User == operatorUser && (r.Verb == "get" || r.Verb == "list" || r.Verb == "watch")).To(BeFalse(),
			"the operator's reads are its bookkeeping, not records: %+v", r)
	}
	n, err := records.Verify(recordsDir, "rec1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeNumerically(">=", 3))
	verify := newVerifier(t)
	code, out := verify.run(t, "rec1", "--records-dir", recordsDir)
	g.Expect(code).To(Equal(0), out)
	g.Expect(out).To(ContainSubstring("operation records of domain rec1 are intact"))

	// Queried from the command line: a person's records in a workspace.
	out2, err := exec.Command(verify.bin, "records", "--records-dir", recordsDir, "--workspace", w.ws.Name, "--person", member, "rec1").Output()
	g.Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(strings.TrimSpace(string(out2)), "\n")
	g.Expect(lines).To(HaveLen(2), "the create and the denied exec: %s", out2)
	g.Expect(lines[0]).To(ContainSubstring(`"name":"model-params"`))
	g.Expect(lines[1]).To(ContainSubstring(`"subresource":"exec"`))

	// Tampering, on a copy: the receiver keeps appending to the original.
	tampered := t.TempDir()
	file := filepath.Join(tampered, "rec1", "records.jsonl")
	g.Expect(os.MkdirAll(filepath.Dir(file), 0o700)).To(Succeed())
	original, err := os.ReadFile(filepath.Join(recordsDir, "rec1", "records.jsonl"))
	g.Expect(err).NotTo(HaveOccurred())
	lines = strings.SplitAfter(string(original), "\n")
	edited := strings.Join(append([]string{strings.Replace(lines[0], `"verb":"`, `"verb":"x`, 1)}, lines[1:]...), "")
	g.Expect(os.WriteFile(file, []byte(edited), 0o600)).To(Succeed())
	_, err = records.Verify(tampered, "rec1")
	g.Expect(err).To(MatchError(ContainSubstring("record 1 was altered")))
	removed := strings.Join(append([]string{lines[0]}, lines[2:]...), "")
	g.Expect(os.WriteFile(file, []byte(removed), 0o600)).To(Succeed())
	_, err = records.Verify(tampered, "rec1")
	g.Expect(err).To(MatchError(ContainSubstring("record 3 follows record 1")))
	code, out = verify.run(t, "rec1", "--records-dir", tampered)
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring("TAMPERED: operation records: record 3 follows record 1"))
}
