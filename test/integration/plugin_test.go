package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"

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
