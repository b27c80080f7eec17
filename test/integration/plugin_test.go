package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/plugin"
)

// The kubectl plugin, found by kubectl on the PATH and run as the caller: a domain's status as
// a table and as JSON, a member's kubeconfig written 0600, a grant reviewed as the reviewer
// themselves (who must hold the reviewer right), the evidence chain verified, and its shell
// completion through kubectl's.
func TestR2_R4_TheKubectlPluginActsAsTheCaller(t *testing.T) {
	g := NewWithT(t)
	kubectl := kubectlWithPlugin(t)
	dir := t.TempDir()
	w := newGrantWorld(t, "plug1", opv1.NetworkPolicyKubernetes)
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))

	out, err := kubectl("status", "plug1")
	g.Expect(err).NotTo(HaveOccurred(), out)
	t.Logf("kubectl opdomain status plug1:\n%s", out)
	g.Expect(out).To(And(ContainSubstring("domain plug1: ready True"), MatchRegexp(`acme\s+Active`), MatchRegexp(`acme-dev\s+Ready`), ContainSubstring("NEXT TO EXPIRE")))
	out, err = kubectl("status", "plug1", "-o", "json")
	g.Expect(err).NotTo(HaveOccurred(), out)
	var st plugin.Status
	g.Expect(json.Unmarshal([]byte(out), &st)).To(Succeed())
	g.Expect(st.Agreements).To(ContainElement(And(HaveField("Name", "acme"), HaveField("Phase", "Active"))))
	g.Expect(st.Workspaces).To(ConsistOf(And(HaveField("Name", "acme-dev"), HaveField("Phase", "Ready"))))

	file := filepath.Join(dir, "member.kubeconfig")
	out, err = kubectl("kubeconfig", w.ws.Name, member, "-n", w.control(), "--to", file)
	g.Expect(err).NotTo(HaveOccurred(), out)
	info, err := os.Stat(file)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))
	cfg, err := clientcmd.LoadFromFile(file)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.AuthInfos).NotTo(BeEmpty())

	gr := w.grant("congestion")
	gr.Spec.Review = nil
	g.Expect(k8s.Create(ctx, gr)).To(Succeed())
	out, err = kubectl("review", "grant", "congestion", "--approve", "-n", w.control(), "--as", "plug1-stranger")
	g.Expect(err).To(HaveOccurred(), "without the reviewer right: %s", out)
	out, err = kubectl("review", "grant", "congestion", "--approve", "-n", w.control(), "--as", reviewer)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("datagrant/congestion approved by " + reviewer))
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))

	out, err = kubectl("verify", "plug1")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("evidence of domain plug1 is intact"))

	// Completion, through kubectl's own (it runs kubectl_complete-opdomain from the PATH):
	// commands, then names as the caller may list them.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"st"}, "status\n:4\n"},
		{[]string{"status", "plug"}, "plug1\n"},
		{[]string{"review", "grant", "-n", w.control(), "cong"}, "congestion\n:4\n"},
		{[]string{"kubeconfig", "-n", w.control(), ""}, w.ws.Name + "\n"},
		{[]string{"kubeconfig", w.ws.Name, "-n", w.control(), ""}, member + "\n"},
		{[]string{"status", "-o", "j"}, "json\n:4\n"},
		{[]string{"rec"}, "records\n"},
		{[]string{"records", "plug"}, "plug1\n"},
		{[]string{"records", "plug1", "--wo"}, "--workspace\n"},
		{[]string{"records", "plug1", "-n", w.control(), "--workspace", ""}, w.ws.Name + "\n"},
		{[]string{"records", "plug1", "-n", w.control(), "--grant", "co"}, "congestion\n"},
		{[]string{"records", "plug1", "--since", ""}, ":4\n"},
	} {
		out, err = kubectl(append([]string{"__complete"}, c.args...)...)
		g.Expect(err).NotTo(HaveOccurred(), out)
		g.Expect(out).To(ContainSubstring(c.want), "completing %q", c.args)
	}
	out, err = kubectl("__complete", "status", "--as", "plug1-stranger", "")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).NotTo(ContainSubstring("plug1\n"), "a stranger, who may not list domains, is offered none")
}

// kubectlWithPlugin runs `kubectl opdomain ARGS` (or, for __complete, kubectl's completion of
// it) as the suite's admin, with the plugin and its completion on the PATH as `make plugin`
// installs them.
func kubectlWithPlugin(t *testing.T) func(args ...string) (string, error) {
	v := newVerifier(t)
	dir := t.TempDir()
	NewWithT(t).Expect(os.Symlink(v.bin, filepath.Join(dir, plugin.Name))).To(Succeed())
	NewWithT(t).Expect(os.Symlink(v.bin, filepath.Join(dir, plugin.CompletionName))).To(Succeed())
	return func(args ...string) (string, error) {
		if args[0] == "__complete" {
			args = append([]string{"__complete", "opdomain", "--kubeconfig", v.kubeconfig}, args[1:]...)
		} else {
			args = append([]string{"opdomain", "--kubeconfig", v.kubeconfig}, args...)
		}
		cmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// R5: `kubectl opdomain review product` appends the caller's review of the revision the
// operator sealed, at the stage awaited, every point answered; what the plugin or the webhook
// refuses (an approval failing a point, a caller without the reviewer right) stores nothing.
func TestR5_TheKubectlPluginReviewsAProductAsTheCaller(t *testing.T) {
	g := NewWithT(t)
	kubectl := kubectlWithPlugin(t)
	d := newDomain(t, "plug2", opv1.NetworkPolicyKubernetes)
	newAgreement(t, d, "operator", opv1.RoleOperator, "", 48*time.Hour, "91320100MA1CPRAT0P")
	newAgreement(t, d, "acme", opv1.RoleDeveloper, "operator", 24*time.Hour, "91320100MA1ABCDE2J")
	p := validProduct("congestion")
	p.Namespace = d.Spec.ControlNamespace
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	out, err := kubectl("review", "product", p.Name, "--approve", "-n", p.Namespace, "--as", reviewer)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("nothing is sealed to review yet"))

	digest := strings.Repeat("d", 64)
	setStatus(t, p, opv1.DataProductStatus{
		Phase: opv1.ProductInReview,
		ArtifactStatus: opv1.ArtifactStatus{
			Sealed: &opv1.SealedArtifact{Revision: 1, SHA256: digest, Size: 2048, At: metav1.Now()},
			Checks: &opv1.CheckReport{SHA256: digest, Outcome: "Pass", At: metav1.Now()},
		},
		Stages: []opv1.ReviewStage{opv1.StageOperator},
	})
	out, err = kubectl("review", "product", p.Name, "--approve", "--fail", string(opv1.PointNotReversible), "-n", p.Namespace, "--as", reviewer)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("an approval passes every review point"))
	out, err = kubectl("review", "product", p.Name, "--approve", "-n", p.Namespace, "--as", "plug2-stranger")
	g.Expect(err).To(HaveOccurred(), "without the reviewer right: %s", out)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	g.Expect(p.Spec.Reviews).To(BeEmpty(), "nothing refused is stored")

	out, err = kubectl("review", "product", p.Name, "--approve", "--comment", "aggregates only", "-n", p.Namespace, "--as", reviewer)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("dataproduct/congestion Operator review of dddddddddddd: Approved by " + reviewer))
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	g.Expect(p.Spec.Reviews).To(ConsistOf(And(HaveField("Stage", opv1.StageOperator), HaveField("Reviewer", reviewer),
		HaveField("SHA256", digest), HaveField("Decision", opv1.DecisionApproved), HaveField("Comment", "aggregates only"))))
	g.Expect(p.Spec.Reviews[0].PassesEveryPoint()).To(BeTrue())
	g.Expect(p.Spec.Reviews[0].MissingPoints()).To(BeEmpty())
}
