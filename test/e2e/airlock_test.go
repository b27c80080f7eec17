package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/test/fixtures"
	"github.com/opdomain/opdomain/test/node"
)

// filesOn makes a claim of the node's storage class in namespace and has a workload write each
// file onto it; it returns once the bytes are on the node's disk.
func filesOn(t testing.TB, namespace, name string, files map[string]string) *corev1.PersistentVolumeClaim {
	t.Helper()
	g := NewWithT(t)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	g.Expect(k8s.Create(ctx, claim)).To(Succeed())
	i := 0
	for file, content := range files {
		i++
		running(t, onClaim(namespace, fmt.Sprintf("%s-writer-%d", name, i), name, false, "write", "/data/"+file, content))
	}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
	for file, content := range files {
		g.Eventually(func() (string, error) { return onDisk(t, claim.Spec.VolumeName, file) }, timeout, poll).Should(Equal(content))
	}
	return claim
}

// onClaim is the agent running args with claim mounted at /data, read-only when readOnly.
func onClaim(namespace, name, claim string, readOnly bool, args ...string) *corev1.Pod {
	pod := node.RestrictedPod(namespace, name, args...)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly},
	}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	return pod
}

// onDisk is what the node's storage holds of a volume's file, read from the node's disk.
func onDisk(t testing.TB, volume, file string) (string, error) {
	t.Helper()
	var pv corev1.PersistentVolume
	if err := k8s.Get(ctx, client.ObjectKey{Name: volume}, &pv); err != nil {
		return "", err
	}
	NewWithT(t).Expect(pv.Spec.HostPath).NotTo(BeNil(), "a volume of the node's storage class")
	b, err := os.ReadFile(filepath.Join(pv.Spec.HostPath.Path, file))
	return string(b), err
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// product submits the file at path of the workspace claim work as a Dataset, as its member.
func product(t testing.TB, w *world, name, path string) *opv1.DataProduct {
	t.Helper()
	p := &opv1.DataProduct{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.domain.Spec.ControlNamespace},
		Spec: opv1.DataProductSpec{
			Authorization: w.developer.Name, Workspace: "team-a", SubmittedBy: "lisi@acme.example", Type: opv1.ProductDataset,
			Artifact: opv1.ProductArtifact{PersistentVolumeClaim: "work", Path: path},
		},
	}
	NewWithT(t).Expect(k8s.Create(ctx, p)).To(Succeed())
	return p
}

// airlockTrail is what to read when a product stalls: its status, and what the manager logged
// about products.
func airlockTrail(p *opv1.DataProduct) func() string {
	return func() string {
		out := fmt.Sprintf("status: %+v\n", p.Status)
		if c := p.Status.Custody; c != nil {
			out += fmt.Sprintf("custody: %+v copied %+v\n", *c, c.Copied)
		}
		owned := client.MatchingLabels{opv1.LabelOwnerName: p.Name}
		var claims corev1.PersistentVolumeClaimList
		_ = k8s.List(ctx, &claims, owned)
		for _, c := range claims.Items {
			out += fmt.Sprintf("claim %s/%s: %s %s\n", c.Namespace, c.Name, c.Status.Phase, c.Spec.VolumeName)
		}
		var owners corev1.PodList
		_ = k8s.List(ctx, &owners, owned)
		for _, pod := range owners.Items {
			out += fmt.Sprintf("pod %s/%s: %s %+v %+v\n%s\n", pod.Namespace, pod.Name, pod.Status.Phase, pod.Status.Conditions, pod.Status.ContainerStatuses,
				nd.PodLog(pod.Namespace, pod.Name))
		}
		var pods corev1.PodList
		_ = k8s.List(ctx, &pods, client.InNamespace(installNamespace))
		for _, pod := range pods.Items {
			for _, line := range strings.Split(nd.PodLog(pod.Namespace, pod.Name), "\n") {
				if strings.Contains(line, "dataproduct") || strings.Contains(line, "DataProduct") {
					out += line + "\n"
				}
			}
		}
		return out
	}
}

func phaseOf(t testing.TB, p *opv1.DataProduct) func() opv1.ProductPhase {
	return func() opv1.ProductPhase {
		NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		return p.Status.Phase
	}
}

// R5, R6: the airlock on the node. A workload writes two tables to its claim. The operator's pods
// seal each (copied out of the workspace onto a volume only the operator mounts, moved to the
// airlock, digested again there) and check it: the table with a resident ID number and a count
// of 3 is returned naming both checks; the clean aggregate waits for review under the digest of
// exactly its bytes, is approved by the reviewer, moves to the outbox and is digested there once
// more, its bytes on the node's disk the bytes the workload wrote. A reviewer delists it: its
// bytes are gone from the disk. The agreement ends: the returned product, still in the airlock,
// is withdrawn and its bytes are gone too. The evidence chain records the publication, the
// delisting and the withdrawal, and verifies.
func TestR5_R6_TheAirlockSealsChecksPublishesAndDelistsRealBytes(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "air1", "team-a")
	ns := w.workspaces["team-a"]
	const dirty = "district,count,holder\nXuanwu,120,110101199003074514\nQinhuai,3,none\n"
	const clean = "district,count\nXuanwu,120\nQinhuai,85\nGulou,200\n"
	filesOn(t, ns, "work", map[string]string{"dirty.csv": dirty, "clean.csv": clean})

	returned := product(t, w, "dirty-table", "/dirty.csv")
	g.Eventually(phaseOf(t, returned), 2*timeout, poll).Should(Equal(opv1.ProductReturned), airlockTrail(returned))
	g.Expect(returned.Status.Sealed.SHA256).To(Equal(sha(dirty)), "sealed under the digest of the bytes the workload wrote")
	var failed []string
	for _, f := range returned.Status.Checks.Findings {
		if f.Outcome == "Fail" {
			failed = append(failed, f.Check)
		}
	}
	g.Expect(failed).To(ContainElements("Identifiers", "SmallCount"))
	g.Expect(fixtures.ConditionStatus(ctx, k8s, returned, opv1.ConditionReady)).To(Equal("False"))

	published := product(t, w, "congestion", "/clean.csv")
	g.Eventually(phaseOf(t, published), 2*timeout, poll).Should(Equal(opv1.ProductInReview), airlockTrail(published))
	g.Expect(published.Status.Sealed.SHA256).To(Equal(sha(clean)))
	g.Expect(published.Status.Checks.Outcome).To(Equal("Pass"))
	custody := published.Status.Custody
	g.Expect(custody.Volume).NotTo(BeEmpty())
	g.Expect(onDisk(t, custody.Volume, "artifact")).To(Equal(clean), "the sealed copy")
	var pv corev1.PersistentVolume
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: custody.Volume}, &pv)).To(Succeed())
	g.Expect(pv.Spec.ClaimRef.Namespace).To(Equal(names.Airlock(w.domain.Name)), "the sealed volume is held in the airlock")
	var staging corev1.PersistentVolumeClaimList
	g.Expect(k8s.List(ctx, &staging, client.InNamespace(ns), client.MatchingLabels{opv1.LabelOwnerName: published.Name})).To(Succeed())
	g.Expect(staging.Items).To(BeEmpty(), "nothing of the seal is left in the workspace")
	mc, _ := member(t, w, "team-a")
	err := mc.List(ctx, &corev1.PersistentVolumeClaimList{}, client.InNamespace(names.Airlock(w.domain.Name)))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a member cannot see into the airlock, got %v", err)

	review := asReviewer(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(published), published)).To(Succeed())
	patch := client.MergeFrom(published.DeepCopy())
	published.Spec.Reviews = append(published.Spec.Reviews, fixtures.ProductReview(opv1.StageOperator, reviewer, published.Status.Sealed.SHA256, opv1.DecisionApproved))
	g.Expect(review.Patch(ctx, published, patch)).To(Succeed())
	g.Eventually(phaseOf(t, published), 2*timeout, poll).Should(Equal(opv1.ProductPublished), airlockTrail(published))
	g.Expect(published.Status.Published.SHA256).To(Equal(sha(clean)), "the outbox copy's digest, computed in the outbox")
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: custody.Volume}, &pv)).To(Succeed())
	g.Expect(pv.Spec.ClaimRef.Namespace).To(Equal(names.Outbox(w.domain.Name)), "the published volume is held in the outbox")
	g.Expect(onDisk(t, custody.Volume, "artifact")).To(Equal(clean), "the published bytes are the bytes the workload wrote")
	dir := pv.Spec.HostPath.Path

	// A reviewer takes the published product down: its outbox copy is destroyed.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(published), published)).To(Succeed())
	patch = client.MergeFrom(published.DeepCopy())
	published.Spec.Delist = &opv1.Delisting{Reviewer: reviewer, Reason: "a recipient combined it with other data"}
	g.Expect(review.Patch(ctx, published, patch)).To(Succeed())
	g.Eventually(endRecord(t, published), 2*timeout, poll).ShouldNot(BeEmpty(), airlockTrail(published))
	g.Expect(published.Status.Phase).To(Equal(opv1.ProductDelisted))
	g.Expect(published.Status.Ended.Reason).To(Equal("DelistedByReviewer"))
	gone(t, custody.Volume, dir)

	// The agreement ends: the returned product still in the airlock is withdrawn and destroyed.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(returned), returned)).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: returned.Status.Custody.Volume}, &pv)).To(Succeed())
	g.Expect(pv.Spec.ClaimRef.Namespace).To(Equal(names.Airlock(w.domain.Name)))
	agreement := w.developer.DeepCopy()
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(agreement), agreement)).To(Succeed())
	end := client.MergeFrom(agreement.DeepCopy())
	agreement.Spec.Termination = &opv1.Termination{Reason: opv1.EndVoluntaryRequest}
	g.Expect(k8s.Patch(ctx, agreement, end)).To(Succeed())
	g.Eventually(endRecord(t, returned), 2*timeout, poll).ShouldNot(BeEmpty(), airlockTrail(returned))
	g.Expect(returned.Status.Phase).To(Equal(opv1.ProductWithdrawn))
	g.Expect(returned.Status.Ended.Reason).To(Equal("AgreementEnded"))
	gone(t, pv.Name, pv.Spec.HostPath.Path)

	events := map[string]*opv1.ProductEvidence{}
	for _, p := range []*opv1.DataProduct{published, returned} {
		var records opv1.TeardownRecordList
		g.Expect(k8s.List(ctx, &records, client.InNamespace(p.Namespace), client.MatchingLabels{opv1.LabelSubjectUID: string(p.UID)})).To(Succeed())
		for _, r := range records.Items {
			events[p.Name+"/"+r.Spec.Event] = r.Spec.Product
		}
	}
	g.Expect(events).To(HaveLen(3))
	g.Expect(events).To(HaveKey("congestion/Delisted"))
	g.Expect(events).To(HaveKey("dirty-table/Withdrawn"))
	g.Expect(events["congestion/Published"].SHA256).To(Equal(sha(clean)))
	g.Expect(events["congestion/Published"].Reviews).To(HaveLen(1))
	g.Expect(events["congestion/Published"].ChecksReportSHA256).To(Equal(published.Status.Checks.ReportSHA256))
	g.Expect(events["dirty-table/Withdrawn"].ChecksOutcome).To(Equal("Fail"))
	g.Eventually(func() ([]string, error) {
		problems, _, err := evidence.VerifyDomain(ctx, k8s, w.domain.Name)
		return problems, err
	}, timeout, poll).Should(BeEmpty(), "the chain verifies")
}

// endRecord reads the product and returns the record of its end, once written.
func endRecord(t testing.TB, p *opv1.DataProduct) func() string {
	return func() string {
		phaseOf(t, p)()
		if p.Status.Ended == nil {
			return ""
		}
		return p.Status.Ended.Record
	}
}

// gone checks that a volume and its directory on the node's disk are gone.
func gone(t testing.TB, volume, dir string) {
	t.Helper()
	g := NewWithT(t)
	_, err := os.Stat(dir)
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "the bytes are gone from the node's disk, got %v", err)
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: volume}, &corev1.PersistentVolume{}))
	}, timeout, poll).Should(BeTrue(), "the volume %s is gone", volume)
}
