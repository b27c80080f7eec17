package product

import (
	"strings"
	"testing"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/fixtures"
)

const (
	digest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	stale  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var review = fixtures.ProductReview

// product is a product at revision 1 in the state the options give.
func product(opts ...func(*opv1.DataProduct)) *opv1.DataProduct {
	p := &opv1.DataProduct{Spec: opv1.DataProductSpec{Authorization: "acme", Revision: 1}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func sealed(p *opv1.DataProduct) {
	p.Status.Sealed = &opv1.SealedArtifact{Revision: p.Spec.Revision, SHA256: digest, Size: 42}
}

// failed records that sealing revision failed.
func failed(revision int64, why string) func(*opv1.DataProduct) {
	return func(p *opv1.DataProduct) { p.Status.Custody = &opv1.ArtifactCustody{Revision: revision, Failure: why} }
}

func checked(outcome opv1.CheckResult) func(*opv1.DataProduct) {
	return func(p *opv1.DataProduct) {
		sealed(p)
		p.Status.Checks = &opv1.CheckReport{SHA256: digest, Outcome: string(outcome)}
	}
}

func reviewed(reviews ...opv1.ProductReview) func(*opv1.DataProduct) {
	return func(p *opv1.DataProduct) {
		checked(opv1.CheckPass)(p)
		p.Spec.Reviews = append(p.Spec.Reviews, reviews...)
	}
}

func published(p *opv1.DataProduct) {
	reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved))(p)
	p.Status.Published = &opv1.PublishedCopy{Location: "outbox/congestion", SHA256: digest}
	p.Status.Phase = opv1.ProductPublished
}

func TestR5_ProductPhaseMachine(t *testing.T) {
	operatorOnly := []opv1.ReviewStage{opv1.StageOperator}
	nanjing := []opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive}
	for _, tc := range []struct {
		name    string
		product *opv1.DataProduct
		in      Inputs
		want    opv1.ProductPhase
		reason  string
		stage   opv1.ReviewStage
	}{
		{name: "submitted: sealing", product: product(), want: opv1.ProductSealing, reason: ReasonSealing},
		{name: "sealing failed", product: product(failed(1, "a symlink")), want: opv1.ProductFailed, reason: ReasonSealFailed},
		{name: "a new revision reseals", product: product(sealed, func(p *opv1.DataProduct) { p.Spec.Revision = 2 }),
			want: opv1.ProductSealing, reason: ReasonSealing},
		{name: "sealing a new revision fails", product: product(sealed, func(p *opv1.DataProduct) { p.Spec.Revision = 2 }, failed(2, "too large")),
			want: opv1.ProductFailed, reason: ReasonSealFailed},
		{name: "a failure of an earlier revision does not count", product: product(failed(1, "a symlink"), func(p *opv1.DataProduct) { p.Spec.Revision = 2 }),
			want: opv1.ProductSealing, reason: ReasonSealing},
		{name: "sealed: checking", product: product(sealed), want: opv1.ProductChecking, reason: ReasonChecking},
		{name: "checks of an earlier digest do not count", product: product(checked(opv1.CheckPass), func(p *opv1.DataProduct) { p.Status.Sealed.SHA256 = stale }),
			want: opv1.ProductChecking, reason: ReasonChecking},
		{name: "a failed check returns it", product: product(checked(opv1.CheckFail)), want: opv1.ProductReturned, reason: ReasonChecksFailed},
		{name: "checked: in review", product: product(checked(opv1.CheckPass)), in: Inputs{Stages: operatorOnly},
			want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageOperator},
		{name: "approved by the one stage", product: product(reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductApproved, reason: ReasonPublishing},
		{name: "a review of a stale digest does not count", product: product(reviewed(review(opv1.StageOperator, "wang", stale, opv1.DecisionApproved))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageOperator},
		{name: "an approval failing a point does not count", product: product(reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved, opv1.PointNotReversible))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageOperator},
		{name: "a review answering too few points does not count", product: product(reviewed(func() opv1.ProductReview {
			r := review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved)
			r.Points = r.Points[:6]
			return r
		}())), in: Inputs{Stages: operatorOnly}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageOperator},
		{name: "changes requested return it", product: product(reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionChangesRequested, opv1.PointNoOtherRisk))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductReturned, reason: ReasonChangesRequested},
		{name: "the last review of a stage decides", product: product(reviewed(
			review(opv1.StageOperator, "wang", digest, opv1.DecisionChangesRequested),
			review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductApproved, reason: ReasonPublishing},
		{name: "rejected, for good", product: product(reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionRejected))),
			in: Inputs{Stages: operatorOnly}, want: opv1.ProductRejected, reason: ReasonRejected},
		{name: "Nanjing: technical approved, comprehensive awaited", product: product(reviewed(review(opv1.StageTechnical, "zhao", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: nanjing}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageComprehensive},
		{name: "Nanjing: a comprehensive review does not stand for the technical one", product: product(reviewed(review(opv1.StageComprehensive, "qian", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: nanjing}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageTechnical},
		{name: "Nanjing: one person cannot approve both stages", product: product(reviewed(
			review(opv1.StageTechnical, "zhao", digest, opv1.DecisionApproved), review(opv1.StageComprehensive, "zhao", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: nanjing}, want: opv1.ProductInReview, reason: ReasonAwaitingReview, stage: opv1.StageComprehensive},
		{name: "Nanjing: both stages approved by two people", product: product(reviewed(
			review(opv1.StageTechnical, "zhao", digest, opv1.DecisionApproved), review(opv1.StageComprehensive, "qian", digest, opv1.DecisionApproved))),
			in: Inputs{Stages: nanjing}, want: opv1.ProductApproved, reason: ReasonPublishing},
		{name: "withdrawn before publication", product: product(checked(opv1.CheckPass), func(p *opv1.DataProduct) { p.Spec.Withdrawn = true }),
			want: opv1.ProductWithdrawn, reason: ReasonWithdrawn},
		{name: "the agreement ends before publication", product: product(sealed), in: Inputs{AgreementEnded: true},
			want: opv1.ProductWithdrawn, reason: ReasonAgreementEnded},
		{name: "a grant is revoked before publication", product: product(), in: Inputs{GrantRevoked: "congestion"},
			want: opv1.ProductWithdrawn, reason: ReasonGrantRevoked},
		{name: "published", product: product(published), in: Inputs{Stages: operatorOnly}, want: opv1.ProductPublished, reason: ReasonPublished},
		{name: "withdrawing a published product does not unpublish it by itself", product: product(published, func(p *opv1.DataProduct) { p.Spec.Withdrawn = true }),
			want: opv1.ProductPublished, reason: ReasonPublished},
		{name: "delisted when its agreement ends", product: product(published), in: Inputs{AgreementEnded: true},
			want: opv1.ProductDelisted, reason: ReasonAgreementEnded},
		{name: "delisted when a grant is revoked", product: product(published), in: Inputs{GrantRevoked: "congestion"},
			want: opv1.ProductDelisted, reason: ReasonGrantRevoked},
		{name: "delisted by a reviewer", product: product(published, func(p *opv1.DataProduct) {
			p.Spec.Delist = &opv1.Delisting{Reviewer: "wang", Reason: "re-identification found"}
		}), want: opv1.ProductDelisted, reason: ReasonDelistedByReviewer},
		{name: "delisted stays delisted", product: product(func(p *opv1.DataProduct) {
			p.Status.Phase = opv1.ProductDelisted
			p.Status.Ended = &opv1.ProductEnd{Reason: ReasonAgreementEnded}
		}), want: opv1.ProductDelisted, reason: ReasonAgreementEnded},
		{name: "rejected stays rejected, whatever a later review says", product: product(reviewed(review(opv1.StageOperator, "wang", digest, opv1.DecisionApproved)), func(p *opv1.DataProduct) {
			p.Status.Phase = opv1.ProductRejected
			p.Status.Ended = &opv1.ProductEnd{Reason: ReasonRejected}
		}), in: Inputs{Stages: operatorOnly}, want: opv1.ProductRejected, reason: ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Product = tc.product
			got := Decide(tc.in)
			if got.Phase != tc.want || got.Reason != tc.reason || got.Stage != tc.stage {
				t.Fatalf("got %+v, want %s/%s stage %q", got, tc.want, tc.reason, tc.stage)
			}
		})
	}
}

func TestR5_CrossBorderReviewWhereARecipientIsForeign(t *testing.T) {
	domestic := []opv1.Recipient{{Name: "Nanjing Traffic Management Bureau"}}
	foreign := []opv1.Recipient{domestic[0], {Name: "Overseas Logistics Ltd.", Foreign: true}}
	for _, tc := range []struct {
		policy     []opv1.ReviewStage
		recipients []opv1.Recipient
		want       string
	}{
		{nil, domestic, "Operator"},
		{nil, foreign, "Operator CrossBorder"},
		{[]opv1.ReviewStage{opv1.StageTechnical, opv1.StageComprehensive}, foreign, "Technical Comprehensive CrossBorder"},
		{[]opv1.ReviewStage{opv1.StageCrossBorder, opv1.StageOperator}, foreign, "CrossBorder Operator"},
	} {
		var got []string
		for _, s := range Stages(tc.policy, tc.recipients) {
			got = append(got, string(s))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v with %v: got %v, want %s", tc.policy, tc.recipients, got, tc.want)
		}
	}
}
