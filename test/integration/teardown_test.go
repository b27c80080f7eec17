package integration

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/workspace"
)

// populate gives a workspace what members leave behind: pods, a workload and a volume.
func populate(t testing.TB, w *world) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	t.Helper()
	g := NewWithT(t)
	ns := w.wsNamespace()
	g.Expect(k8s.Create(ctx, restrictedPod(ns, "train"))).To(Succeed())
	tmpl := restrictedPod(ns, "")
	g.Expect(k8s.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "notebook", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "notebook"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "notebook"}}, Spec: tmpl.Spec},
		},
	})).To(Succeed())
	return newVolume(t, w, "results")
}

func TestR6_DeletingAWorkspaceDestroysEverythingAndRecordsIt(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "td1", opv1.NetworkPolicyBoth, 24*time.Hour)
	ns := w.wsNamespace()
	token, secret := memberToken(t, w)
	pvc, pv := populate(t, w)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)).To(Succeed())
	uid := w.ws.UID
	account := w.ws.Status.Credentials[0].ServiceAccount

	g.Expect(k8s.Delete(ctx, w.ws)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)) }, 2*timeout, poll).
		Should(BeTrue(), "the workspace goes once its teardown is done")

	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}))).To(BeTrue(), "namespace gone")
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(pv), &corev1.PersistentVolume{}))).To(BeTrue(), "volume gone")
	var accounts corev1.ServiceAccountList
	g.Expect(k8s.List(ctx, &accounts, client.InNamespace(w.control()), client.MatchingLabels{opv1.LabelOwnerName: "acme-dev"})).To(Succeed())
	g.Expect(accounts.Items).To(BeEmpty(), "no ServiceAccount left")
	var secrets corev1.SecretList
	g.Expect(k8s.List(ctx, &secrets, client.InNamespace(w.control()), client.MatchingLabels{opv1.LabelOwnerName: "acme-dev"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "no credential Secret left")
	g.Eventually(func() *bool { u := review(t, token); return ptrBool(u != nil) }, tokenCacheTimeout, 500*time.Millisecond).
		Should(HaveValue(BeFalse()), "the token is rejected")

	var recs opv1.TeardownRecordList
	g.Expect(k8s.List(ctx, &recs, client.InNamespace(w.control()), client.MatchingLabels{opv1.LabelSubjectUID: string(uid)})).To(Succeed())
	g.Expect(recs.Items).To(HaveLen(1))
	rec := recs.Items[0]
	g.Expect(rec.Spec.Reason).To(Equal("WorkspaceDeleted"))
	g.Expect(rec.Spec.Domain).To(Equal("td1"))
	g.Expect(rec.Spec.Subject.UID).To(Equal(string(uid)))
	var order []string
	for _, st := range rec.Spec.Steps {
		order = append(order, st.Name)
		g.Expect(st.CompletedAt).NotTo(BeNil(), st.Name)
	}
	g.Expect(order).To(Equal(workspace.TeardownSteps), "steps ran in order")
	recorded := func(step, kind, name string) bool {
		for _, st := range rec.Spec.Steps {
			if st.Name != step {
				continue
			}
			return slices.ContainsFunc(st.Objects, func(o opv1.ObjectRecord) bool { return o.Kind == kind && o.Name == name && o.UID != "" })
		}
		return false
	}
	g.Expect(recorded(workspace.StepPaths, "NetworkPolicy", "opdomain-allow-dns")).To(BeTrue())
	g.Expect(recorded(workspace.StepPaths, "CiliumNetworkPolicy", "opdomain-allow-same-namespace")).To(BeTrue())
	g.Expect(recorded(workspace.StepIdentities, "Secret", secret)).To(BeTrue())
	g.Expect(recorded(workspace.StepIdentities, "ServiceAccount", account)).To(BeTrue())
	g.Expect(slices.ContainsFunc(rec.Spec.Steps[slices.Index(workspace.TeardownSteps, workspace.StepIdentities)].Objects,
		func(o opv1.ObjectRecord) bool { return o.Kind == "RoleBinding" })).To(BeTrue())
	g.Expect(recorded(workspace.StepCompute, "Pod", "train")).To(BeTrue())
	g.Expect(recorded(workspace.StepCompute, "Deployment", "notebook")).To(BeTrue())
	g.Expect(recorded(workspace.StepData, "PersistentVolumeClaim", pvc.Name)).To(BeTrue(), "%+v", rec.Spec.Steps)
	g.Expect(recorded(workspace.StepData, "PersistentVolume", pv.Name)).To(BeTrue())
	g.Expect(recorded(workspace.StepNamespace, "Namespace", ns)).To(BeTrue())
	for _, o := range rec.Spec.Steps[slices.Index(workspace.TeardownSteps, workspace.StepData)].Objects {
		if o.Kind == "PersistentVolume" {
			g.Expect(o.Detail).To(ContainSubstring("reclaim policy was Retain"))
		}
	}

	// The record is evidence: it cannot be edited.
	patch := client.MergeFrom(rec.DeepCopy())
	rec.Spec.Reason = "nothing happened"
	err := k8s.Patch(ctx, &rec, patch)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("immutable"))
}

// A manager stopped after any step of a teardown and started again finishes it, and writes
// exactly one record.
func TestR6_TeardownResumesAfterARestartAtEveryStep(t *testing.T) {
	for i, step := range workspace.TeardownSteps {
		t.Run("after "+step, func(t *testing.T) {
			g := NewWithT(t)
			w := newWorld(t, "tdr"+string(rune('a'+i)), opv1.NetworkPolicyKubernetes, 24*time.Hour)
			_, pv := populate(t, w)

			g.Expect(k8s.Delete(ctx, w.ws)).To(Succeed())
			g.Eventually(func() bool {
				var ws opv1.DeveloperWorkspace
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), &ws); err != nil || ws.Status.Teardown == nil {
					return apierrors.IsNotFound(err)
				}
				return slices.ContainsFunc(ws.Status.Teardown.Steps, func(s opv1.TeardownStep) bool {
					return s.Name == step && s.CompletedAt != nil
				})
			}, 2*timeout, 10*time.Millisecond).Should(BeTrue())
			stopManager()
			g.Expect(startManager()).To(Succeed())

			g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)) }, 2*timeout, poll).Should(BeTrue())
			var records opv1.TeardownRecordList
			g.Expect(k8s.List(ctx, &records, client.InNamespace(w.control()))).To(Succeed())
			records.Items = teardowns(records.Items)
			g.Expect(records.Items).To(HaveLen(1), "exactly one record")
			g.Expect(records.Items[0].Spec.Steps).To(HaveLen(len(workspace.TeardownSteps)))
			g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: w.wsNamespace()}, &corev1.Namespace{}))).To(BeTrue())
			g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(pv), &corev1.PersistentVolume{}))).To(BeTrue())
		})
	}
}
