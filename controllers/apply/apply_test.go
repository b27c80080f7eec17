package apply

import (
	"testing"
	"time"

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

// The cache may hold more than opdomain states (server defaults, others' labels), never less or
// other; lists are compared item by item and must be as long.
func TestContainsIsASubsetWithExactLists(t *testing.T) {
	g := NewWithT(t)
	want := map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "1"}}, "rules": []any{map[string]any{"verbs": []any{"get"}}}}
	g.Expect(contains(map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"a": "1", "b": "2"}, "uid": "x"},
		"rules":    []any{map[string]any{"verbs": []any{"get"}, "defaulted": true}},
	}, want)).To(BeTrue())
	g.Expect(contains(map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "2"}}, "rules": want["rules"]}, want)).To(BeFalse(), "a changed value")
	g.Expect(contains(map[string]any{"metadata": want["metadata"]}, want)).To(BeFalse(), "a missing field")
	g.Expect(contains(map[string]any{"metadata": want["metadata"], "rules": []any{}}, want)).To(BeFalse(), "an emptied list")
	g.Expect(contains(map[string]any{"metadata": want["metadata"], "rules": []any{want["rules"].([]any)[0], map[string]any{}}}, want)).To(BeFalse(), "an added rule")
}

// A write this process made a moment ago outranks a cache that has not seen it yet.
func TestRecentWriteOutranksTheCache(t *testing.T) {
	g := NewWithT(t)
	var w written
	g.Expect(w.agrees("k", "closed")).To(BeTrue(), "nothing remembered: the cache decides")
	w.remember("k", "open")
	g.Expect(w.agrees("k", "closed")).To(BeFalse(), "the cache may still show closed; the object is open")
	g.Expect(w.agrees("k", "open")).To(BeTrue())
	w.remember("k", "")
	g.Expect(w.agrees("k", "open")).To(BeFalse(), "after a failed write the state is unknown")
	w.m.Store("k", writeMark{digest: "open", at: time.Now().Add(-2 * trail)})
	g.Expect(w.agrees("k", "closed")).To(BeTrue(), "long after, the cache has caught up")
}
