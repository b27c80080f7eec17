package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/tenancy"
)

// cutWithin is how soon access must be gone once an agreement or a domain says so.
const cutWithin = time.Second

func TestR3_SuspensionCutsAccessAtOnceKeepsDataAndRestoresIt(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "acc1", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()
	pvc, _ := newVolume(t, w, "results")
	g.Expect(k8s.Create(ctx, restrictedPod(ns, "train"))).To(Succeed())
	token, oldSecret := memberToken(t, w)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())
	g.Expect(can(t, *user, ns, "create", "", "pods", "")).To(BeTrue())

	setSuspension(t, w.developer, &opv1.Suspension{Reason: "RegulatorOrder", Note: "inspection"})
	g.Eventually(func() bool { return can(t, *user, ns, "create", "", "pods", "") }, cutWithin, poll).
		Should(BeFalse(), "authorization is cut within a second")
	g.Eventually(func() *bool { u := review(t, token); return ptrBool(u != nil) }, tokenCacheTimeout, 500*time.Millisecond).
		Should(HaveValue(BeFalse()), "the token itself is rejected once the API server's cache lapses")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: oldSecret}, &corev1.Secret{}))
	}, timeout, poll).Should(BeTrue(), "the credential Secret is deleted")
	g.Eventually(func() []corev1.Pod { return pods(t, ns) }, timeout, poll).Should(BeEmpty(), "workloads stopped")
	var quota corev1.ResourceQuota
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, &quota)).To(Succeed())
	g.Expect(quota.Spec.Hard[corev1.ResourcePods]).To(Equal(resource.MustParse("0")), "nothing can start again")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed(), "data is kept")
	g.Expect(pvc.DeletionTimestamp).To(BeNil())
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended))
	g.Expect(w.ws.Status.Credentials).To(BeEmpty())

	setSuspension(t, w.developer, nil)
	waitReady(t, w.ws)
	newToken, newSecret := memberToken(t, w)
	g.Expect(newSecret).NotTo(Equal(oldSecret), "a fresh credential")
	newUser := review(t, newToken)
	g.Expect(newUser).NotTo(BeNil())
	g.Expect(can(t, *newUser, ns, "create", "", "pods", "")).To(BeTrue())
	g.Expect(k8s.Create(ctx, restrictedPod(ns, "train-again"))).To(Succeed(), "pods may run again")
}

func TestR3_CredentialEndsWithTheAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "acc2", opv1.NetworkPolicyKubernetes, 2*time.Hour)
	ns := w.wsNamespace()
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)).To(Succeed())
	g.Expect(w.ws.Status.Credentials[0].ExpiresAt.Time).To(BeTemporally("~", w.developer.Spec.Term.End.Time, time.Second),
		"a credential never outlives the agreement, though the TTL is 8h")
	token, _ := memberToken(t, w)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())

	clock.Step(2*time.Hour + time.Second)
	g.Eventually(func() bool { return can(t, *user, ns, "create", "", "pods", "") }, cutWithin, poll).
		Should(BeFalse(), "access ends within a second of the term's end")
	g.Eventually(func() opv1.AuthorizationPhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)
		return w.developer.Status.Phase
	}, timeout, poll).Should(Equal(opv1.PhaseExpired))
	g.Expect(w.developer.Status.EndReason).To(Equal(opv1.EndTermExpired))
	g.Eventually(func() *bool { u := review(t, token); return ptrBool(u != nil) }, tokenCacheTimeout, 500*time.Millisecond).
		Should(HaveValue(BeFalse()))
	g.Eventually(func() opv1.WorkspacePhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)
		return w.ws.Status.Phase
	}, timeout, poll).Should(Equal(opv1.WorkspaceTornDown), "an ended agreement tears its workspace down")
	var rec opv1.TeardownRecord
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.ws.Status.Teardown.Record}, &rec)).To(Succeed())
	g.Expect(rec.Spec.Reason).To(Equal(string(opv1.EndTermExpired)))
}

func TestR3_CredentialRotatesBeforeItExpires(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "acc3", opv1.NetworkPolicyKubernetes, 72*time.Hour)
	_, first := memberToken(t, w)
	firstExpiry := w.ws.Status.Credentials[0].ExpiresAt.Time

	clock.Step(8 * time.Hour * 81 / 100) // past 80% of an 8h life
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)
		if len(w.ws.Status.Credentials) == 0 {
			return ""
		}
		return w.ws.Status.Credentials[0].SecretName
	}, timeout, poll).ShouldNot(Equal(first), "rotated at 80% of its life")
	token, _ := memberToken(t, w)
	g.Expect(review(t, token)).NotTo(BeNil(), "the new credential works")
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: first}, &corev1.Secret{})).
		To(Succeed(), "the replaced credential lives out its term so a running session is not cut")

	clock.Step(firstExpiry.Sub(clock.Now()) + time.Second)
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: first}, &corev1.Secret{}))
	}, timeout, poll).Should(BeTrue(), "the replaced credential is deleted once it expires")
}

func TestR7_EmergencyStopCutsEveryWorkspaceAndLiftingRestores(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "acc4", opv1.NetworkPolicyBoth, 24*time.Hour)
	second := addWorkspace(t, w, "acme-second")
	token, _ := memberToken(t, w)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())

	setEmergencyStop(t, w.domain, true)
	for _, ws := range []*opv1.DeveloperWorkspace{w.ws, second} {
		g.Eventually(func() bool { return can(t, *user, ws.Status.Namespace, "create", "", "pods", "") }, cutWithin, poll).Should(BeFalse())
		g.Eventually(conditionText(ws, opv1.ConditionEmergencyStop), timeout, poll).Should(HavePrefix("True/"), "the stop is visible on "+ws.Name)
		g.Expect(ws.Status.Credentials).To(BeEmpty())
	}
	g.Eventually(conditionText(w.domain, opv1.ConditionEmergencyStop), timeout, poll).Should(HavePrefix("True/"))

	setEmergencyStop(t, w.domain, false)
	waitReady(t, w.ws)
	waitReady(t, second)
	token, _ = memberToken(t, w)
	user = review(t, token)
	g.Expect(user).NotTo(BeNil())
	g.Expect(can(t, *user, w.wsNamespace(), "create", "", "pods", "")).To(BeTrue())
}

func setSuspension(t testing.TB, a *opv1.Authorization, s *opv1.Suspension) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Suspension = s
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
}

func setEmergencyStop(t testing.TB, d *opv1.OperationDomain, active bool) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.EmergencyStop = opv1.EmergencyStop{Active: active, Reason: "security incident drill"}
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
}

func pods(t testing.TB, namespace string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	NewWithT(t).Expect(k8s.List(ctx, &list, client.InNamespace(namespace))).To(Succeed())
	return list.Items
}

// newVolume makes a PersistentVolume pre-bound to a claim in the workspace, with the Retain
// policy a careless storage class would leave.
func newVolume(t testing.TB, w *world, name string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	t.Helper()
	g := NewWithT(t)
	ns := w.wsNamespace()
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: &empty,
		},
	}
	g.Expect(k8s.Create(ctx, pvc)).To(Succeed())
	// Made for the claim, as a provisioner would: the volume binder binds the two.
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: name, UID: pvc.UID},
		},
	}
	g.Expect(k8s.Create(ctx, pv)).To(Succeed())
	g.Eventually(func() corev1.PersistentVolumeClaimPhase {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
		return pvc.Status.Phase
	}, timeout, poll).Should(Equal(corev1.ClaimBound))
	return pvc, pv
}

func ptrBool(b bool) *bool { return &b }
