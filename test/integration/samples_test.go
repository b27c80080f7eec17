package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/controlplane"
)

// The samples are the YAML contract: applied with kubectl, they must yield a Ready domain and
// a Ready workspace that `kubectl wait` and kstatus both see. Their terms are real dates; if
// the clock has passed them, this test says so and the samples need new dates.
func TestR3_SamplesBecomeReadyUnderKubectlWaitAndKstatus(t *testing.T) {
	g := NewWithT(t)
	sampleEnd := time.Date(2028, 9, 1, 0, 0, 0, 0, time.UTC) // the grant ends first
	g.Expect(clock.Now().Before(sampleEnd)).To(BeTrue(), "the sample agreements' terms have lapsed: update config/samples")

	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := cp.KubeConfig("admin")
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	kubectl := func(args ...string) string {
		cmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), append([]string{"--kubeconfig", path}, args...)...)
		out, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), string(out))
		return string(out)
	}

	kubectl("apply", "-k", filepath.Join(root, "config", "samples"))
	// The grant waits for its review, which only the reviewer gives, as themselves (R4).
	kubectl("-n", "jiangsu-control", "patch", "datagrant/congestion-forecast", "--as", "wang@js-data-group.example", "--type", "merge",
		"-p", `{"spec":{"review":{"reviewer":"wang@js-data-group.example","decision":"Approved"}}}`)
	g.Expect(kubectl("wait", "--for=condition=Ready", "--timeout=30s", "operationdomain/jiangsu")).To(ContainSubstring("condition met"))
	g.Expect(kubectl("wait", "--for=condition=Ready", "--timeout=30s", "-n", "jiangsu-control", "developerworkspace/acme-dev")).To(ContainSubstring("condition met"))
	g.Expect(kubectl("wait", "--for=jsonpath={.status.phase}=Active", "--timeout=30s", "-n", "jiangsu-control", "authorization/acme-analytics")).To(ContainSubstring("condition met"))
	g.Expect(kubectl("wait", "--for=condition=Ready", "--timeout=30s", "-n", "jiangsu-control", "dataresource/traffic-flow", "datagrant/congestion-forecast")).
		To(ContainSubstring("condition met"))

	d := &opv1.OperationDomain{}
	d.Name = "jiangsu"
	g.Expect(kstatus(t, d)).To(Equal(status.CurrentStatus))
	ws := &opv1.DeveloperWorkspace{}
	ws.Name, ws.Namespace = "acme-dev", "jiangsu-control"
	g.Expect(kstatus(t, ws)).To(Equal(status.CurrentStatus))
	g.Expect(ws.Status.Namespace).To(Equal("jiangsu-ws-acme-dev"))
	g.Expect(ws.Status.Credentials).To(HaveLen(1))
	g.Expect(ws.Status.Credentials[0].Member).To(Equal("lisi@acme.example"))

	g.Expect(kubectl("get", "dws", "-n", "jiangsu-control")).To(And(ContainSubstring("acme-dev"), ContainSubstring("Ready")))
	g.Expect(kubectl("get", "networkpolicy", "-n", "jiangsu-data", "-o", "name")).To(ContainSubstring("opdomain-grant-congestion-forecast-0"))

	// R7: the disclosure page, as a browser renders it, shows the sample domain's agreements.
	g.Eventually(func() string { return inChromium(t, "http://"+disclosureAddr+"/", "disclosure.png") }, timeout, poll).Should(And(
		ContainSubstring(`<section id="domain-jiangsu">`),
		ContainSubstring("acme-analytics"), ContainSubstring("Acme Analytics Co."), ContainSubstring("91320100MA1ABCDE2J"),
	))
}
