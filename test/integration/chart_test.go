package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opdomain/opdomain/test/controlplane"
)

// The Helm chart installs what enforces R1–R4 beside the CRDs: the manager, its RBAC, the
// validating webhook, the reviewer ClusterRole and, on request, the in-domain resolver; and the
// operation records' volume, audit policy and token (R8) and the disclosure page (R7). Rendered
// with helm, every object must be accepted by the API server.
func TestR1_ChartRendersObjectsTheAPIServerAccepts(t *testing.T) {
	helm := os.Getenv("OPDOMAIN_HELM")
	if helm == "" {
		t.Skip("OPDOMAIN_HELM is not set: `make test` installs helm and sets it")
	}
	g := NewWithT(t)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "chart-check"}})).To(Succeed())
	inDomainResolver(t) // the resolver's namespace, which a server dry run cannot create first
	rendered, err := exec.Command(helm, "template", "opdomain", filepath.Join(root, "charts", "opdomain"), "--namespace", "chart-check",
		"--set", "dns.resolver.enabled=true", "--set", "metrics.dashboard.enabled=true").Output()
	g.Expect(err).NotTo(HaveOccurred())
	manifest := filepath.Join(t.TempDir(), "chart.yaml")
	g.Expect(os.WriteFile(manifest, rendered, 0o600)).To(Succeed())

	kubeconfig, err := cp.KubeConfig("admin")
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfigPath := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(kubeconfigPath, kubeconfig, 0o600)).To(Succeed())
	out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "--kubeconfig", kubeconfigPath,
		"apply", "--dry-run=server", "-f", manifest).CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	g.Expect(string(out)).To(And(
		ContainSubstring("validatingwebhookconfiguration.admissionregistration.k8s.io/opdomain-validating-webhook-configuration created (server dry run)"),
		ContainSubstring("deployment.apps/opdomain-manager created (server dry run)"),
		ContainSubstring("clusterrole.rbac.authorization.k8s.io/opdomain-manager created (server dry run)"),
		ContainSubstring("secret/opdomain-webhook-certs created (server dry run)"),
		ContainSubstring("clusterrole.rbac.authorization.k8s.io/opdomain-reviewer configured (server dry run)"), // the harness installed it
		ContainSubstring("deployment.apps/opdomain-resolver created (server dry run)"),
		ContainSubstring("configmap/opdomain-resolver created (server dry run)"),
		// R8, R7: the records' volume, the audit policy and token, the disclosure page's Service.
		ContainSubstring("persistentvolumeclaim/opdomain-records created (server dry run)"),
		ContainSubstring("configmap/opdomain-audit created (server dry run)"),
		ContainSubstring("secret/opdomain-audit created (server dry run)"),
		ContainSubstring("service/opdomain-disclosure created (server dry run)"),
		// The metrics' Service and the ClusterRole that may read them.
		ContainSubstring("service/opdomain-metrics created (server dry run)"),
		ContainSubstring("clusterrole.rbac.authorization.k8s.io/opdomain-metrics-reader created (server dry run)"),
		ContainSubstring("configmap/opdomain-dashboard created (server dry run)"),
		// The CRDs are the release's templates, so that upgrades change them (the harness
		// installed them first).
		ContainSubstring("customresourcedefinition.apiextensions.k8s.io/operationdomains.opdomain.io configured (server dry run)"),
	))
}
