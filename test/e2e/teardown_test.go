package e2e

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gstruct"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/node"
)

// R6: what a workload wrote to a workspace volume is gone from the node's disk once the
// workspace is torn down, and the TeardownRecord names the volume that held it. The node's
// storage class keeps each volume in a directory of its own and removes it when the volume is
// deleted, as a real storage system destroys a deleted disk.
func TestR6_TeardownDestroysTheBytesAWorkloadWroteToItsVolume(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "vol1", "team-a")
	ns := w.workspaces["team-a"]
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	g.Expect(k8s.Create(ctx, claim)).To(Succeed())
	const secret = "110101199003074514,Zhang San,13800138000"
	pod := node.RestrictedPod(ns, "writer", "write", "/data/rows.csv", secret)
	pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name},
	}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/data"}}
	running(t, pod)

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
	var pv corev1.PersistentVolume
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: claim.Spec.VolumeName}, &pv)).To(Succeed())
	g.Expect(pv.Spec.HostPath).NotTo(BeNil(), "a volume of the node's storage class")
	file := filepath.Join(pv.Spec.HostPath.Path, "rows.csv")
	g.Eventually(func() (string, error) { b, err := os.ReadFile(file); return string(b), err }, timeout, poll).
		Should(Equal(secret), "the bytes are on the node's disk")

	ws := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: w.domain.Spec.ControlNamespace}}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
	g.Expect(k8s.Delete(ctx, ws)).To(Succeed())
	var records opv1.TeardownRecordList
	g.Eventually(func() []opv1.TeardownRecord {
		g.Expect(k8s.List(ctx, &records, client.InNamespace(ws.Namespace), client.MatchingLabels{opv1.LabelSubjectUID: string(ws.UID)})).To(Succeed())
		return records.Items
	}, 2*timeout, poll).Should(HaveLen(1), "the workspace is torn down")

	_, err := os.Stat(pv.Spec.HostPath.Path)
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "the volume's directory is gone from the node's disk, got %v", err)
	var data *opv1.TeardownStep
	for i, step := range records.Items[0].Spec.Steps {
		if step.Name == "data" {
			data = &records.Items[0].Spec.Steps[i]
		}
	}
	g.Expect(data).NotTo(BeNil())
	g.Expect(data.Objects).To(ContainElement(gstruct.MatchFields(gstruct.IgnoreExtras, gstruct.Fields{
		"Kind": Equal("PersistentVolume"), "Name": Equal(pv.Name), "UID": Equal(string(pv.UID)),
	})), "the TeardownRecord names the volume")
}
