package integration

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/controlplane"
)

// appendImportReview appends r to the import's reviews as c's user (updateAs).
func appendImportReview(c client.Client, m *opv1.DataImport, r opv1.ImportReview) error {
	return updateAs(c, m, func(m *opv1.DataImport) { m.Spec.Reviews = append(m.Spec.Reviews, r) })
}

// R4: an import's schema refuses a path that climbs out of its claim and any rewrite of its
// history; its review is admitted only from a reviewer signed in as themselves, holding the
// reviewer right, who did not ask for it and is no person of the developer party, of the digest
// the operator sealed, while it is in review; reviews are a record. Nothing refused is stored.
// (The operator's seal is written here as the reconciler writes it once its pods have run.)
func TestR4_ImportReviewsAreBoundToTheCallerAndTheSealedDigest(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "imr", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	d := w.domain
	g.Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "submitter-reviews", Namespace: d.Spec.ControlNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: member}},
	})).To(Succeed())
	submitter, err := impersonating(member)
	g.Expect(err).NotTo(HaveOccurred())
	// The outsider may edit imports but holds no reviewer right.
	editor := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "import-editor", Namespace: d.Spec.ControlNamespace},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"dataimports"}, Verbs: []string{"get", "update", "patch"}}},
	}
	g.Expect(k8s.Create(ctx, editor)).To(Succeed())
	g.Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "outsider-edits", Namespace: d.Spec.ControlNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: editor.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "nobody@example.com"}},
	})).To(Succeed())
	outsider, err := impersonating("nobody@example.com")
	g.Expect(err).NotTo(HaveOccurred())

	valid := func(name string) *opv1.DataImport {
		return &opv1.DataImport{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Spec.ControlNamespace},
			Spec: opv1.DataImportSpec{Authorization: "acme", Workspace: "acme-dev", SubmittedBy: member, Source: "Weather Service open data",
				Artifact: opv1.ProductArtifact{PersistentVolumeClaim: "uploads", Path: "/weather.csv"}},
		}
	}
	climbing := valid("climbing")
	climbing.Spec.Artifact.Path = "/../etc/passwd"
	rejected(t, climbing, "spec.artifact.path", "may not contain '..'")
	digest, stale := strings.Repeat("d", 64), strings.Repeat("e", 64)
	approval := func(reviewer, sha string) opv1.ImportReview {
		return opv1.ImportReview{Reviewer: reviewer, SHA256: sha, Decision: opv1.DecisionApproved, Time: metav1.Now(), Comment: "lawful open data"}
	}
	premature := valid("premature")
	premature.Spec.Reviews = []opv1.ImportReview{approval(reviewer, digest)}
	rejected(t, premature, "spec.reviews", "once the operator has sealed it")

	m := valid("weather")
	g.Expect(k8s.Create(ctx, m)).To(Succeed())
	g.Expect(appendImportReview(asReviewer, m, approval(reviewer, digest))).To(MatchError(ContainSubstring("is Sealing, not InReview")))
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return err
		}
		m.Status = opv1.DataImportStatus{Phase: opv1.ImportInReview, ArtifactStatus: opv1.ArtifactStatus{
			Sealed: &opv1.SealedArtifact{Revision: 1, SHA256: digest, Size: 64, At: metav1.Now()},
			Checks: &opv1.CheckReport{SHA256: digest, Outcome: "Pass", At: metav1.Now()}}}
		return k8s.Status().Update(ctx, m)
	}, timeout, poll).Should(Succeed())

	for name, tc := range map[string]struct {
		as     client.Client
		review opv1.ImportReview
		parts  []string
	}{
		"another's name":    {asReviewer, approval("sun@operator.example", digest), []string{"spec.reviews[0].reviewer", "is not the caller (" + reviewer + ")"}},
		"no reviewer right": {outsider, approval("nobody@example.com", digest), []string{"spec.reviews[0].reviewer", "does not hold the reviewer right"}},
		"the submitter":     {submitter, approval(member, digest), []string{"spec.reviews[0].reviewer", "submitted it and may not review it"}},
		"a stale digest":    {asReviewer, approval(reviewer, stale), []string{"spec.reviews[0].sha256", "not the digest the operator sealed (" + digest + ")"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := appendImportReview(tc.as, m, tc.review)
			NewWithT(t).Expect(err).To(HaveOccurred())
			for _, part := range tc.parts {
				NewWithT(t).Expect(err.Error()).To(ContainSubstring(part))
			}
		})
	}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
	g.Expect(m.Spec.Reviews).To(BeEmpty(), "nothing refused was stored")
	g.Expect(appendImportReview(asReviewer, m, approval(reviewer, digest))).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
	edited := m.DeepCopy()
	edited.Spec.Reviews[0].Decision = opv1.DecisionRejected
	g.Expect(asReviewer.Patch(ctx, edited, client.MergeFrom(m))).To(MatchError(ContainSubstring("reviews are a record")))
	for _, tc := range []struct {
		change func(*opv1.DataImport)
		want   string
	}{
		{func(m *opv1.DataImport) { m.Spec.Workspace = "other" }, "spec.workspace is immutable"},
		{func(m *opv1.DataImport) { m.Spec.SubmittedBy = "other" }, "spec.submittedBy is immutable"},
	} {
		changed := m.DeepCopy()
		tc.change(changed)
		g.Expect(k8s.Patch(ctx, changed, client.MergeFrom(m))).To(MatchError(ContainSubstring(tc.want)))
	}

	// A delivered import's claim is the operator's to make, and mounted read-only only.
	ns := w.wsNamespace()
	mount := func(name string, readOnly bool) *corev1.Pod {
		pod := restrictedPod(ns, name)
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
		pod.Spec.Volumes = []corev1.Volume{{Name: "weather", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "opdomain-import-weather-r1", ReadOnly: readOnly}}}}
		return pod
	}
	refusedBeside(t, k8s, mount("writes-import", false), mount("reads-import", true), "spec.volumes[].persistentVolumeClaim.readOnly", "opdomain R4")
	forged := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "opdomain-import-weather-r1", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	rejected(t, forged, "metadata.name", "only the operator makes them", "opdomain R4")
}
