package index

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// R3: a domain's own bookkeeping (its records' anchor, its evidence chain's head) wakes nothing
// under it and is no boundary of its grants; its spec, its deletion and the status they read
// (its DNS containment, its conditions) do and are.
func TestR3_ADomainsBookkeepingIsNoChangeToWhatIsUnderIt(t *testing.T) {
	g := NewWithT(t)
	old := &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "d", Generation: 1}}
	changed := func(mutate func(*opv1.OperationDomain)) bool {
		updated := old.DeepCopy()
		mutate(updated)
		return DomainChanges.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated})
	}
	g.Expect(changed(func(d *opv1.OperationDomain) { d.Status.Records.Head.Sequence = 7 })).To(BeFalse(), "an anchor")
	g.Expect(changed(func(d *opv1.OperationDomain) { d.Status.Evidence.Head.Sequence = 3 })).To(BeFalse(), "a TeardownRecord")
	g.Expect(changed(func(d *opv1.OperationDomain) { d.Generation = 2 })).To(BeTrue(), "its spec")
	g.Expect(changed(func(d *opv1.OperationDomain) { d.DeletionTimestamp = &metav1.Time{Time: time.Now()} })).To(BeTrue(), "its deletion")
	g.Expect(changed(func(d *opv1.OperationDomain) { d.Status.DNS.Contained = true })).To(BeTrue(), "its DNS")
	g.Expect(changed(func(d *opv1.OperationDomain) {
		d.Status.Conditions = []metav1.Condition{{Type: opv1.ConditionAdmissionEnforced, Status: metav1.ConditionTrue}}
	})).To(BeTrue(), "its conditions")
}
