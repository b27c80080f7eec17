package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/test/controlplane"
)

// verifier runs the manager binary's verify-evidence command against the test cluster.
type verifier struct{ bin, kubeconfig string }

var (
	buildVerifier sync.Once
	theVerifier   verifier
	verifierErr   error
)

// newVerifier builds the manager once per test binary.
func newVerifier(t *testing.T) verifier {
	t.Helper()
	buildVerifier.Do(func() { theVerifier, verifierErr = build() })
	NewWithT(t).Expect(verifierErr).NotTo(HaveOccurred())
	return theVerifier
}

func build() (verifier, error) {
	dir, err := os.MkdirTemp("", "opdomain-verify-")
	if err != nil {
		return verifier{}, err
	}
	bin, err := controlplane.BuildManager(dir)
	if err != nil {
		return verifier{}, err
	}
	kubeconfig, err := cp.KubeConfig("admin")
	if err != nil {
		return verifier{}, err
	}
	path := filepath.Join(dir, "kubeconfig")
	return verifier{bin: bin, kubeconfig: path}, os.WriteFile(path, kubeconfig, 0o600)
}

// run verifies the domain's evidence, with flags before its name.
func (v verifier) run(t *testing.T, domain string, flags ...string) (int, string) {
	t.Helper()
	args := append(append([]string{"verify-evidence", "--kubeconfig", v.kubeconfig}, flags...), domain)
	out, err := exec.Command(v.bin, args...).CombinedOutput()
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		return exitErr.ExitCode(), string(out)
	}
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return 0, string(out)
}

// teardowns are the records in recs but the domain's yearly disclosure snapshots, which a test
// stepping the shared clock over a new year may see taken.
func teardowns(recs []opv1.TeardownRecord) []opv1.TeardownRecord {
	return slices.DeleteFunc(slices.Clone(recs), func(r opv1.TeardownRecord) bool { return r.Spec.Event == "Disclosed" })
}

// tearDownWorkspaces deletes the world's workspaces one by one and returns the domain once its
// chain head has caught up with every record.
func tearDownWorkspaces(t *testing.T, w *world, names ...string) {
	t.Helper()
	g := NewWithT(t)
	for _, name := range names {
		ws := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()}}
		g.Expect(k8s.Delete(ctx, ws)).To(Succeed())
		g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ws), ws)) }, 2*timeout, poll).Should(BeTrue())
	}
	g.Eventually(func() int64 {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		return w.domain.Status.Evidence.Head.Sequence
	}, timeout, poll).Should(BeEquivalentTo(len(names)))
}

func TestR6_EvidenceChainRevealsEditedAndRemovedRecords(t *testing.T) {
	g := NewWithT(t)
	verify := newVerifier(t)
	w := newWorld(t, "ev1", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	addWorkspace(t, w, "second")
	addWorkspace(t, w, "third")
	tearDownWorkspaces(t, w, "acme-dev", "second", "third")

	code, out := verify.run(t, "ev1")
	g.Expect(code).To(Equal(0), out)
	g.Expect(out).To(ContainSubstring("intact: 3 record(s)"))
	records, err := evidence.Chain(ctx, k8s, w.domain)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(records[1].Spec.PreviousDigest).To(Equal(records[0].Spec.Digest), "each record names its predecessor")

	// Records cannot be edited through the API, so an edit is a delete and a create.
	forged := records[1].DeepCopy()
	g.Expect(k8s.Delete(ctx, &records[1])).To(Succeed())
	forged.ObjectMeta = metav1.ObjectMeta{Name: forged.Name, Namespace: forged.Namespace, Labels: forged.Labels}
	forged.Spec.Reason = string(opv1.EndVoluntaryRequest)
	g.Expect(k8s.Create(ctx, forged)).To(Succeed())
	code, out = verify.run(t, "ev1")
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring(forged.Name + ": content does not match its digest"))

	g.Expect(k8s.Delete(ctx, &records[2])).To(Succeed())
	code, out = verify.run(t, "ev1")
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring("records 3 to 3 are missing from the end"))
}

func TestR6_EvidenceIsKeptForTheRetentionPeriodAndNotAfter(t *testing.T) {
	g := NewWithT(t)
	verify := newVerifier(t)
	w := newWorld(t, "ev2", opv1.NetworkPolicyKubernetes, 365*24*time.Hour)
	// Records of processing are kept 1095 days under the default rulebook, by when the agreements
	// have expired and been recorded too; a Custom domain keeps them 180.
	setPolicy(t, w.domain, func(s *opv1.OperationDomainSpec) {
		s.Rulebook = opv1.RulebookCustom
		s.RecordRetentionDays = 180
	})
	addWorkspace(t, w, "second")
	tearDownWorkspaces(t, w, "acme-dev", "second")
	records, err := evidence.Chain(ctx, k8s, w.domain)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(records).To(HaveLen(2))
	expiry := records[1].Spec.CompletedAt.AddDate(0, 0, 180)
	kept := func() int {
		list, _ := evidence.Chain(ctx, k8s, w.domain)
		return len(teardowns(list))
	}

	clock.Step(expiry.Sub(clock.Now()) - time.Hour)
	g.Consistently(kept, time.Second, poll).Should(Equal(2), "kept until 180 days have passed")

	clock.Step(2 * time.Hour)
	g.Eventually(kept, timeout, poll).Should(BeZero(), "removed once retention has run out")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)).To(Succeed())
	g.Expect(w.domain.Status.Evidence.Pruned.Sequence).To(BeEquivalentTo(2))
	code, out := verify.run(t, "ev2")
	g.Expect(code).To(Equal(0), out)
}
