package workspace

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// R6: a teardown step resumed after a restart records each object once, by UID, however often
// it lists what it destroyed.
func TestR6_AStepRecordsEachObjectOnce(t *testing.T) {
	g := NewWithT(t)
	step := &opv1.TeardownStep{Name: StepIdentities}
	first := []opv1.ObjectRecord{{Kind: "RoleBinding", Name: "a", UID: "1"}, {Kind: "Secret", Name: "b", UID: "2"}}
	g.Expect(addEvidence(step, first)).To(BeTrue())
	g.Expect(addEvidence(step, first)).To(BeFalse(), "listed again after a restart")
	g.Expect(addEvidence(step, []opv1.ObjectRecord{{Kind: "Secret", Name: "b", UID: "2"}, {Kind: "Secret", Name: "b", UID: "3"}})).To(BeTrue(),
		"the same name with another UID is another object")
	g.Expect(step.Objects).To(HaveLen(3))
}

// R6: the data step destroys a volume only while it is bound to the workspace's own claim, by
// UID: a volume released and bound to a claim of the same name elsewhere, or since, is not.
func TestR6_AVolumeIsTheWorkspacesOnlyWhileBoundToItsClaim(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ws", Name: "data", UID: "c1"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	volume := func(ref *corev1.ObjectReference) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{ClaimRef: ref}}
	}
	for name, c := range map[string]struct {
		pv    *corev1.PersistentVolume
		claim *corev1.PersistentVolumeClaim
		bound bool
	}{
		"bound both ways":           {volume(&corev1.ObjectReference{Namespace: "ws", Name: "data", UID: "c1"}), claim, true},
		"no claim reference":        {volume(nil), claim, false},
		"a claim of the same name":  {volume(&corev1.ObjectReference{Namespace: "ws", Name: "data", UID: "c2"}), claim, false},
		"another namespace":         {volume(&corev1.ObjectReference{Namespace: "zone", Name: "data", UID: "c1"}), claim, false},
		"the claim not bound (yet)": {volume(&corev1.ObjectReference{Namespace: "ws", Name: "data", UID: "c1"}), pending(claim), false},
	} {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(boundTo(c.pv, c.claim)).To(Equal(c.bound))
		})
	}
}

func pending(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	p := c.DeepCopy()
	p.Status.Phase = corev1.ClaimPending
	return p
}

// R3: names derived from a domain, a workspace and a member fit Kubernetes' limits, whatever
// their length, and inputs that differ never share a name.
func TestR3_DerivedNamesFitAndNeverCollide(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("w", 80)
	for _, n := range []string{NamespaceName("jiangsu", long), serviceAccountName(long, "lisi@acme.example"), bindingName(long + "@acme.example")} {
		g.Expect(len(n)).To(BeNumerically("<=", 63), n)
		g.Expect(n).To(MatchRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`), "a DNS label")
	}
	g.Expect(NamespaceName("jiangsu", "acme-dev")).To(Equal("jiangsu-ws-acme-dev"), "short names read as they are")
	g.Expect(serviceAccountName("acme-dev", "lisi@acme.example")).NotTo(Equal(serviceAccountName("acme-dev", "lisi@acme-example")),
		"members whose names fold alike keep their own identities")
	g.Expect(NamespaceName("jiangsu", long+"a")).NotTo(Equal(NamespaceName("jiangsu", long+"b")))
}

// R2: a credential's annotated time that does not parse is no time, which fails closed: an
// unreadable expiry counts as expired (the credential is revoked), an unreadable renewal time
// as due (a new one is issued).
func TestR2_AnUnreadableCredentialTimeIsNone(t *testing.T) {
	g := NewWithT(t)
	o := &metav1.ObjectMeta{Annotations: map[string]string{"t": "2026-11-24T08:00:00Z", "bad": "soon"}}
	g.Expect(annotationTime(o, "t").IsZero()).To(BeFalse())
	g.Expect(annotationTime(o, "bad").IsZero()).To(BeTrue())
	g.Expect(annotationTime(o, "missing").IsZero()).To(BeTrue())
}
