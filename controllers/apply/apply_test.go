package apply

import (
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// A nil pointer without omitempty must not reach the API server as null, which a schema may
// refuse (VolumeSnapshotContent's sourceVolumeMode does).
func TestToUnstructuredDropsNulls(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(snapshotv1.AddToScheme(scheme)).To(Succeed())
	content := &snapshotv1.VolumeSnapshotContent{Spec: snapshotv1.VolumeSnapshotContentSpec{Driver: "csi.example.org"}}
	content.Name = "c"
	u, err := ToUnstructured(scheme, content)
	g.Expect(err).NotTo(HaveOccurred())
	spec := u.Object["spec"].(map[string]any)
	g.Expect(spec).NotTo(HaveKey("sourceVolumeMode"))
	g.Expect(spec).To(HaveKeyWithValue("driver", "csi.example.org"))
	g.Expect(u.GetKind()).To(Equal("VolumeSnapshotContent"))
	g.Expect(u.Object).NotTo(HaveKey("status"))
}
