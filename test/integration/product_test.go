package integration

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

func validProduct(name string) *opv1.DataProduct {
	return &opv1.DataProduct{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: opv1.DataProductSpec{
			Authorization: "acme", Workspace: "acme-dev", Type: opv1.ProductType("Dataset"),
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
		g.Expect(k8s.Update(ctx, changed)).To(MatchError(ContainSubstring(tc.want)))
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
		g.Expect(k8s.Update(ctx, changed)).To(MatchError(ContainSubstring(tc.want)))
	}

	twice := validDomain("stages-twice")
	twice.Spec.Products.ReviewStages = []opv1.ReviewStage{opv1.StageTechnical, opv1.StageTechnical}
	rejected(t, twice, "spec.products.reviewStages", "may name each stage once")
	d := validDomain("product-defaults")
	g.Expect(k8s.Create(ctx, d, client.DryRunAll)).To(Succeed())
	g.Expect(d.Spec.Products.ReviewStages).To(Equal([]opv1.ReviewStage{opv1.StageOperator}))
	g.Expect(d.Spec.Products.Checks).To(Equal(opv1.ProductChecks{MinCount: 10, Rounding: 5, K: 10, DominanceN: 2, DominancePercent: 90,
		RawRecordRows: 50, RawRecordDistinctPercent: 95}))
}
