package integration

import (
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// dataService creates a Service in the data zone selecting pods labelled app=name.
func dataService(t testing.TB, d *opv1.OperationDomain, name string, port int32) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Spec.DataZoneNamespace},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "api", Port: port}},
		},
	}
	NewWithT(t).Expect(k8s.Create(ctx, svc)).To(Succeed())
	return svc
}

func dataResource(d *opv1.OperationDomain, name string, level int32, source opv1.DataSource) *opv1.DataResource {
	return &opv1.DataResource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Spec.ControlNamespace},
		Spec: opv1.DataResourceSpec{
			Provider: "Provincial Transport Department", Level: level,
			Fields: []opv1.Field{{Name: "road_id"}, {Name: "hour"}, {Name: "vehicle_count"}, {Name: "plate", Sensitive: true}},
			Source: source,
		},
	}
}

func offerable(res *opv1.DataResource) func() string {
	return conditionText(res, opv1.ConditionReady)
}

func TestR4_ResourceIsOfferableOnlyOffTheNegativeListWithItsSourcePresent(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "cat1", opv1.NetworkPolicyKubernetes)

	byService := dataResource(d, "traffic-flow", 2, opv1.DataSource{Service: &opv1.ServiceSource{Name: "traffic-api", Port: 8080}})
	g.Expect(k8s.Create(ctx, byService)).To(Succeed())
	g.Eventually(offerable(byService), timeout, poll).Should(And(
		HavePrefix("False/"+opv1.ReasonSourceNotFound), ContainSubstring("Service cat1-data/traffic-api not found")))
	g.Expect(byService.Status.Offerable).To(BeFalse())

	dataService(t, d, "traffic-api", 8080)
	g.Eventually(offerable(byService), timeout, poll).Should(HavePrefix("True/"))
	g.Expect(byService.Status.Offerable).To(BeTrue())

	bySnapshot := dataResource(d, "census-2020", 3, opv1.DataSource{VolumeSnapshot: &opv1.VolumeSnapshotSource{Name: "census"}})
	g.Expect(k8s.Create(ctx, bySnapshot)).To(Succeed())
	g.Eventually(offerable(bySnapshot), timeout, poll).Should(HavePrefix("False/" + opv1.ReasonSourceNotFound))
	g.Expect(k8s.Create(ctx, &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "census", Namespace: d.Spec.DataZoneNamespace},
		Spec:       snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: ptr.To("census-content")}},
	})).To(Succeed())
	g.Eventually(offerable(bySnapshot), timeout, poll).Should(HavePrefix("True/"))

	// The authority puts a resource on the negative list: it is no longer offered.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.NegativeList = []string{"census-2020"}
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
	g.Eventually(offerable(bySnapshot), timeout, poll).Should(HavePrefix("False/" + opv1.ReasonNegativeListed))
	g.Expect(bySnapshot.Status.Offerable).To(BeFalse())
	g.Consistently(offerable(byService), "500ms", poll).Should(HavePrefix("True/"))

	// The changes that matter to grants are Events of the resource: offered, then withdrawn
	// (a Warning, saying why); a resource never offered says nothing until it is.
	g.Eventually(func() []string { return eventReasons(t, bySnapshot) }, timeout, poll).Should(ConsistOf("Offered", opv1.ReasonNegativeListed))
	g.Expect(eventReasons(t, byService)).To(ConsistOf("Offered"))
}
