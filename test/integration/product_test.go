package integration

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/airlock"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/fixtures"
)

func validProduct(name string) *opv1.DataProduct {
	return &opv1.DataProduct{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: opv1.DataProductSpec{
			Authorization: "acme", Workspace: "acme-dev", SubmittedBy: member, Type: opv1.ProductType("Dataset"),
			Artifact: opv1.ProductArtifact{PersistentVolumeClaim: "results", Path: "/tables/congestion.csv"},
		},
	}
}

// R5: the API server refuses, naming the field, a product whose artifact path climbs out of its
// claim, a review that names no digest or answers no points, and any rewrite of a product's
// history: its agreement and workspace, a lower revision, an undone withdrawal. A domain's
// review stages are named once each, and its product policy defaults to the operator's one
// review and practice's thresholds.
func TestR5_DataProductSchemaRefusesBadInputAndRewrites(t *testing.T) {
	g := NewWithT(t)
	climbing := validProduct("climbing")
	climbing.Spec.Artifact.Path = "/tables/../../etc/passwd"
	rejected(t, climbing, "spec.artifact.path", "may not contain '..'")
	relative := validProduct("relative")
	relative.Spec.Artifact.Path = "tables/congestion.csv"
	rejected(t, relative, "spec.artifact.path")
	undigested := validProduct("undigested")
	undigested.Spec.Reviews = []opv1.ProductReview{{Stage: opv1.StageOperator, Reviewer: "wang", SHA256: "latest", Decision: opv1.DecisionApproved, Time: metav1.Now(),
		Points: []opv1.PointFinding{{Point: opv1.PointNoOtherRisk, Result: opv1.CheckPass}}}}
	rejected(t, undigested, "spec.reviews[0].sha256")
	pointless := validProduct("pointless")
	pointless.Spec.Reviews = []opv1.ProductReview{{Stage: opv1.StageOperator, Reviewer: "wang", Decision: opv1.DecisionApproved, Time: metav1.Now(),
		SHA256: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}
	rejected(t, pointless, "spec.reviews[0].points")

	p := validProduct("rewritten")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	g.Expect(p.Spec.Revision).To(Equal(int64(1)), "revision defaults to 1")
	for _, tc := range []struct {
		change func(*opv1.DataProduct)
		want   string
	}{
		{func(p *opv1.DataProduct) { p.Spec.Authorization = "other" }, "spec.authorization is immutable"},
		{func(p *opv1.DataProduct) { p.Spec.Workspace = "other" }, "spec.workspace is immutable"},
	} {
		changed := p.DeepCopy()
		tc.change(changed)
		g.Expect(k8s.Patch(ctx, changed, client.MergeFrom(p))).To(MatchError(ContainSubstring(tc.want)))
	}
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.Revision, p.Spec.Withdrawn = 3, true
	g.Expect(k8s.Patch(ctx, p, patch)).To(Succeed(), "a new revision, and a withdrawal")
	for _, tc := range []struct {
		change func(*opv1.DataProduct)
		want   string
	}{
		{func(p *opv1.DataProduct) { p.Spec.Revision = 2 }, "spec.revision may only grow"},
		{func(p *opv1.DataProduct) { p.Spec.Withdrawn = false }, "spec.withdrawn cannot be undone"},
	} {
		changed := p.DeepCopy()
		tc.change(changed)
		g.Expect(k8s.Patch(ctx, changed, client.MergeFrom(p))).To(MatchError(ContainSubstring(tc.want)))
	}

	twice := validDomain("stages-twice")
	twice.Spec.Products.ReviewStages = []opv1.ReviewStage{opv1.StageTechnical, opv1.StageTechnical}
	rejected(t, twice, "spec.products.reviewStages", "may name each stage once")
	d := validDomain("product-defaults")
	g.Expect(k8s.Create(ctx, d, client.DryRunAll)).To(Succeed())
	g.Expect(d.Spec.Rulebook).To(Equal(opv1.RulebookJiangsu), "the default rulebook")
	g.Expect(d.Spec.Products.ReviewStages).To(BeEmpty(), "the rulebook's stages unless the domain names its own")
	g.Expect(d.Spec.Products.Checks).To(Equal(opv1.ProductChecks{MinCount: 10, Rounding: 5, K: 10, DominanceN: 2, DominancePercent: 90,
		RawRecordRows: 50, RawRecordDistinctPercent: 95}))
}

// setStatus writes the status the operator would write once the airlock's pods have run (the
// integration control plane runs none), on the product as stored.
func setStatus(t testing.TB, p *opv1.DataProduct, status opv1.DataProductStatus) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		p.Status = status
		return k8s.Status().Update(ctx, p)
	}, timeout, poll).Should(Succeed())
}

// updateAs changes obj as stored and updates it as c's user, and says what the API server said;
// a conflict with the operator's own writes is tried again.
func updateAs[T client.Object](c client.Client, obj T, change func(T)) error {
	for {
		fresh := obj.DeepCopyObject().(T)
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
			return err
		}
		change(fresh)
		if err := c.Update(ctx, fresh); !apierrors.IsConflict(err) {
			return err
		}
	}
}

// appendReview appends r to the product's reviews as c's user (updateAs).
func appendReview(c client.Client, p *opv1.DataProduct, r opv1.ProductReview) error {
	return updateAs(c, p, func(p *opv1.DataProduct) { p.Spec.Reviews = append(p.Spec.Reviews, r) })
}

// R5: a product's review is admitted only from the reviewer signed in as themselves, holding
// the reviewer right, who is neither its submitter nor a person of the developer party; of the
// digest the operator sealed, while the product is in review, at the stage awaited, answering
// every point, an approval passing them all; one person per stage; reviews are a record, never
// edited. Nothing refused is stored. (The operator's seal is written here as the reconciler
// writes it once its pods have run.)
func TestR5_ProductReviewsAreBoundToTheCallerTheSealedDigestAndTheStage(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "prv", opv1.NetworkPolicyKubernetes)
	stages := client.MergeFrom(d.DeepCopy())
	d.Spec.Rulebook = opv1.RulebookNanjing // Technical, then Comprehensive (NJ 10)
	g.Expect(k8s.Patch(ctx, d, stages)).To(Succeed())
	newAgreement(t, d, "operator", opv1.RoleOperator, "", 48*time.Hour, "91320100MA1CPRAT0P")
	newAgreement(t, d, "acme", opv1.RoleDeveloper, "operator", 24*time.Hour, "91320100MA1ABCDE2J")
	const second, partyPerson, outsider = "sun@operator.example", "zhaoliu@acme.example", "nobody@example.com"
	// The outsider may edit products but holds no reviewer right.
	editor := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "product-editor", Namespace: d.Spec.ControlNamespace},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"dataproducts"}, Verbs: []string{"get", "update", "patch"}}},
	}
	g.Expect(k8s.Create(ctx, editor)).To(Succeed())
	clients := map[string]client.Client{reviewer: asReviewer}
	for _, user := range []string{second, member, partyPerson, outsider} {
		role := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole}
		if user == outsider {
			role = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: editor.Name}
		}
		g.Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "products-" + strings.ReplaceAll(strings.Split(user, "@")[0], ".", "-"), Namespace: d.Spec.ControlNamespace},
			RoleRef:    role,
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		})).To(Succeed())
		c, err := impersonating(user)
		g.Expect(err).NotTo(HaveOccurred())
		clients[user] = c
	}

	premature := validProduct("premature")
	premature.Namespace = d.Spec.ControlNamespace
	premature.Spec.Reviews = []opv1.ProductReview{fixtures.ProductReview(opv1.StageOperator, reviewer, strings.Repeat("a", 64), opv1.DecisionApproved)}
	rejected(t, premature, "spec.reviews", "once the operator has sealed it")

	p := validProduct("congestion")
	p.Namespace = d.Spec.ControlNamespace
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	digest, stale := strings.Repeat("c", 64), strings.Repeat("5", 64)
	g.Expect(appendReview(asReviewer, p, fixtures.ProductReview(opv1.StageTechnical, reviewer, digest, opv1.DecisionApproved))).
		To(MatchError(ContainSubstring("is Sealing, not InReview")), "nothing sealed, nothing to review")
	setStatus(t, p, opv1.DataProductStatus{
		Phase: opv1.ProductInReview,
		ArtifactStatus: opv1.ArtifactStatus{
			Sealed: &opv1.SealedArtifact{Revision: 1, SHA256: digest, Size: 2048, At: metav1.Now()},
			Checks: &opv1.CheckReport{SHA256: digest, Outcome: "Pass", At: metav1.Now()},
		},
		Stages: []opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive},
	})

	partial := fixtures.ProductReview(opv1.StageTechnical, reviewer, digest, opv1.DecisionApproved)
	partial.Points = partial.Points[:5]
	for name, tc := range map[string]struct {
		as     string
		review opv1.ProductReview
		parts  []string
	}{
		"another's name": {reviewer, fixtures.ProductReview(opv1.StageTechnical, second, digest, opv1.DecisionApproved),
			[]string{"spec.reviews[0].reviewer", second + " is not the caller (" + reviewer + ")"}},
		"no reviewer right": {outsider, fixtures.ProductReview(opv1.StageTechnical, outsider, digest, opv1.DecisionApproved),
			[]string{"spec.reviews[0].reviewer", "does not hold the reviewer right"}},
		"the submitter": {member, fixtures.ProductReview(opv1.StageTechnical, member, digest, opv1.DecisionApproved),
			[]string{"spec.reviews[0].reviewer", "submitted it and may not review it"}},
		"the developer party": {partyPerson, fixtures.ProductReview(opv1.StageTechnical, partyPerson, digest, opv1.DecisionApproved),
			[]string{"spec.reviews[0].reviewer", "person of the developer party"}},
		"a stale digest": {reviewer, fixtures.ProductReview(opv1.StageTechnical, reviewer, stale, opv1.DecisionApproved),
			[]string{"spec.reviews[0].sha256", "not the digest the operator sealed (" + digest + ")"}},
		"a stage out of order": {reviewer, fixtures.ProductReview(opv1.StageComprehensive, reviewer, digest, opv1.DecisionApproved),
			[]string{"spec.reviews[0].stage", "the Technical review is awaited"}},
		"a point unanswered": {reviewer, partial,
			[]string{"spec.reviews[0].points", "NoOtherRisk", "NotReversible"}},
		"an approval failing a point": {reviewer, fixtures.ProductReview(opv1.StageTechnical, reviewer, digest, opv1.DecisionApproved, opv1.PointNotReversible),
			[]string{"spec.reviews[0].decision", "an approval passes every review point"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := appendReview(clients[tc.as], p, tc.review)
			NewWithT(t).Expect(err).To(HaveOccurred())
			for _, part := range tc.parts {
				NewWithT(t).Expect(err.Error()).To(ContainSubstring(part))
			}
		})
	}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	g.Expect(p.Spec.Reviews).To(BeEmpty(), "nothing refused was stored")

	g.Expect(appendReview(asReviewer, p, fixtures.ProductReview(opv1.StageTechnical, reviewer, digest, opv1.DecisionApproved))).To(Succeed())
	g.Expect(appendReview(asReviewer, p, fixtures.ProductReview(opv1.StageComprehensive, reviewer, digest, opv1.DecisionApproved))).
		To(MatchError(ContainSubstring("reviewed another stage of this digest")))
	g.Expect(appendReview(clients[second], p, fixtures.ProductReview(opv1.StageComprehensive, second, digest, opv1.DecisionApproved))).To(Succeed())

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	edited := p.DeepCopy()
	edited.Spec.Reviews[0].Decision = opv1.DecisionRejected
	g.Expect(asReviewer.Patch(ctx, edited, client.MergeFrom(p))).To(MatchError(ContainSubstring("reviews are a record")))
	delisted := p.DeepCopy()
	delisted.Spec.Delist = &opv1.Delisting{Reviewer: reviewer, Reason: "re-identification risk"}
	g.Expect(asReviewer.Patch(ctx, delisted, client.MergeFrom(p))).To(MatchError(ContainSubstring("only a published product can be delisted")))

	// A product whose agreement is not found has no known party: no one reviews it.
	orphan := validProduct("orphan")
	orphan.Namespace, orphan.Spec.Authorization = d.Spec.ControlNamespace, "ghost"
	g.Expect(k8s.Create(ctx, orphan)).To(Succeed())
	setStatus(t, orphan, opv1.DataProductStatus{Phase: opv1.ProductInReview, Stages: []opv1.ReviewStage{opv1.StageOperator},
		ArtifactStatus: opv1.ArtifactStatus{Sealed: &opv1.SealedArtifact{Revision: 1, SHA256: digest, Size: 2048, At: metav1.Now()}}})
	g.Expect(appendReview(asReviewer, orphan, fixtures.ProductReview(opv1.StageOperator, reviewer, digest, opv1.DecisionApproved))).
		To(MatchError(And(ContainSubstring("spec.authorization"), ContainSubstring(`agreement "ghost" not found`))))

	// Sealed but not checked: no stage awaits a review yet (refused as such while the status
	// says InReview, as not in review once the operator says Checking).
	unchecked := validProduct("unchecked")
	unchecked.Namespace = d.Spec.ControlNamespace
	g.Expect(k8s.Create(ctx, unchecked)).To(Succeed())
	setStatus(t, unchecked, opv1.DataProductStatus{Phase: opv1.ProductInReview, Stages: []opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive},
		ArtifactStatus: opv1.ArtifactStatus{Sealed: &opv1.SealedArtifact{Revision: 1, SHA256: digest, Size: 2048, At: metav1.Now()}}})
	g.Expect(appendReview(asReviewer, unchecked, fixtures.ProductReview(opv1.StageTechnical, reviewer, digest, opv1.DecisionApproved))).
		To(MatchError(Or(ContainSubstring("spec.reviews[0].stage: Forbidden: no stage awaits a review"),
			ContainSubstring("spec.reviews[0]: Forbidden: the product is Checking, not InReview"))))
}

// R5: a sealed artifact's volume moves from claim to claim — out of the workspace into the
// airlock, from there into the outbox — and in between is reserved for the next claim by name:
// a claim waiting in the workspace for any volume of its size never gets it. Destroying it gives
// the volume back to the Delete policy and deletes its claim. Nobody but the operator makes a
// seal claim or mounts one.
func TestR5_AnArtifactVolumeMovesClaimToClaimAndNothingElseBindsIt(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "air1", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()
	sealed, pv := newVolume(t, w, "taken")
	empty := ""
	rival := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "rival", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: &empty,
		},
	}
	g.Expect(k8s.Create(ctx, rival)).To(Succeed())

	cfg, err := cp.UserConfig(operatorUser)
	g.Expect(err).NotTo(HaveOccurred())
	op, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	custodian := airlock.Custodian{Client: op, APIReader: op}
	labels := map[string]string{opv1.LabelDomain: w.domain.Name}
	for _, to := range []client.ObjectKey{{Namespace: names.Airlock(w.domain.Name), Name: "taken-r1"}, {Namespace: names.Outbox(w.domain.Name), Name: "taken-r1"}} {
		g.Eventually(func() (bool, error) { return custodian.Move(ctx, pv.Name, to, labels) }, timeout, poll).Should(BeTrue(), "moved to %s", to)
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pv), pv)).To(Succeed())
		g.Expect(pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name).To(Equal(to.String()))
		g.Expect(pv.Spec.PersistentVolumeReclaimPolicy).To(Equal(corev1.PersistentVolumeReclaimRetain), "kept while it moves")
	}
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(sealed), sealed))).To(BeTrue(), "the workspace's claim is gone")
	g.Consistently(func() corev1.PersistentVolumeClaimPhase {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rival), rival)).To(Succeed())
		return rival.Status.Phase
	}, 2*time.Second, poll).Should(Equal(corev1.ClaimPending), "the rival claim never gets the volume")

	// The control plane's volume controller deletes a released /tmp hostPath volume itself, as a
	// provisioner deletes its disks.
	g.Eventually(func() (bool, error) { return custodian.Destroy(ctx, pv.Name, labels) }, timeout, poll).Should(BeTrue(), "the volume is gone")
	published := client.ObjectKey{Namespace: names.Outbox(w.domain.Name), Name: "taken-r1"}
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, published, &corev1.PersistentVolumeClaim{}))).To(BeTrue(), "the outbox claim is gone")

	// Members' pods and claims: a seal claim is the operator's alone.
	pod := restrictedPod(ns, "peek")
	pod.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "opdomain-seal-congestion-r1"}}}}
	rejected(t, pod, "spec.volumes[].persistentVolumeClaim.claimName", "only the operator's own pods mount it", "opdomain R5")
	forged := rival.DeepCopy()
	forged.ObjectMeta = metav1.ObjectMeta{Name: "opdomain-seal-congestion-r1", Namespace: ns}
	rejected(t, forged, "metadata.name", "only the operator makes them", "R5)")
}
