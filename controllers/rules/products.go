package rules

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// ProductCaller is who writes a product change: the authenticated caller, whether they hold
// the reviewer right on it, and the persons of the developer party the product comes from.
type ProductCaller struct {
	User         string
	MayReview    bool
	PartyPersons []string
}

// ProductCreate checks a new product (R5): it is submitted bare, with no review or delisting,
// since there is nothing sealed yet to review or published to delist.
func ProductCreate(p *opv1.DataProduct) []*Violation {
	spec := field.NewPath("spec")
	var out []*Violation
	if len(p.Spec.Reviews) > 0 {
		out = append(out, &Violation{Field: spec.Child("reviews"), Reason: opv1.ReasonReviewNotIndependent,
			Message: "a product is reviewed once the operator has sealed it: submit it without reviews"})
	}
	if p.Spec.Delist != nil {
		out = append(out, &Violation{Field: spec.Child("delist"), Reason: opv1.ReasonReviewNotIndependent,
			Message: "only a published product can be delisted"})
	}
	return out
}

// ProductReviews checks what an update adds to a product's reviews and delisting (R5). Reviews
// are a record: appended, never edited or removed. Each new review is given by its caller, who
// holds the reviewer right, is neither the submitter nor a person of the developer party, and
// reviews no other stage of the same digest; it reviews the stage awaited (awaited, from the
// phase machine) of the digest the operator sealed, while the product is InReview, and answers
// every review point, an approval passing them all. A delisting is written once, by a reviewer
// as themselves, of a published product.
func ProductReviews(old, p *opv1.DataProduct, c ProductCaller, awaited opv1.ReviewStage) []*Violation {
	reviews := field.NewPath("spec", "reviews")
	var out []*Violation
	add := func(path *field.Path, format string, args ...any) {
		out = append(out, &Violation{Field: path, Reason: opv1.ReasonReviewNotIndependent, Message: fmt.Sprintf(format, args...)})
	}
	n := len(old.Spec.Reviews)
	if !appendedOnly(old.Spec.Reviews, p.Spec.Reviews) {
		add(reviews, reviewsAreARecord)
		return out
	}
	// Status as stored: what the operator sealed and published, not what a request says.
	sealed := old.Status.Sealed
	for i := n; i < len(p.Spec.Reviews); i++ {
		r, path := p.Spec.Reviews[i], reviews.Index(i)
		if v := independentReviewer(path.Child("reviewer"), r.Reviewer, p.Spec.SubmittedBy, c); v != nil {
			out = append(out, v)
			continue
		}
		switch {
		case old.Status.Phase != opv1.ProductInReview:
			add(path, "the product is %s, not InReview: nothing of it is awaiting a review", phaseOrNew(old.Status.Phase))
		case sealed == nil || r.SHA256 != sealed.SHA256:
			add(path.Child("sha256"), "%s is not the digest the operator sealed (%s): a review names exactly what it approved", r.SHA256, sealedDigest(sealed))
		case awaited == "":
			add(path.Child("stage"), "no stage awaits a review of this product: the operator has not finished its checks")
		case r.Stage != awaited:
			add(path.Child("stage"), "the %s review is awaited, not %s: stages are reviewed in order", awaited, r.Stage)
		case reviewedOtherStage(p.Spec.Reviews[:i], r):
			add(path.Child("reviewer"), "%s reviewed another stage of this digest: each stage is reviewed by another person", r.Reviewer)
		}
		if missing := r.MissingPoints(); len(missing) > 0 {
			add(path.Child("points"), "a review answers every review point; missing %v", missing)
		} else if r.Decision == opv1.DecisionApproved && !r.PassesEveryPoint() {
			add(path.Child("decision"), "an approval passes every review point; request changes or reject instead")
		}
	}
	if d := p.Spec.Delist; d != nil && !equality.Semantic.DeepEqual(old.Spec.Delist, d) {
		path := field.NewPath("spec", "delist")
		switch {
		case old.Spec.Delist != nil:
			add(path, "a delisting is written once")
		case old.Status.Published == nil:
			add(path, "only a published product can be delisted")
		default:
			if v := independentReviewer(path.Child("reviewer"), d.Reviewer, p.Spec.SubmittedBy, c); v != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// independentReviewer checks that name is the caller, who holds the reviewer right and is
// neither the submitter nor a person of the developer party.
func independentReviewer(path *field.Path, name, submitter string, c ProductCaller) *Violation {
	if v := signedBy(path, "a review", "reviewer", name, c.User, c.MayReview, "verb review on the object (ClusterRole opdomain-reviewer)"); v != nil {
		return v
	}
	why := ""
	switch {
	case name == submitter:
		why = fmt.Sprintf("%s submitted it and may not review it (two-person rule)", name)
	case slices.Contains(c.PartyPersons, name):
		why = fmt.Sprintf("%s is a person of the developer party and may not review what it submits (two-person rule)", name)
	default:
		return nil
	}
	return &Violation{Field: path, Reason: opv1.ReasonReviewNotIndependent, Message: why}
}

func reviewedOtherStage(earlier []opv1.ProductReview, r opv1.ProductReview) bool {
	return slices.ContainsFunc(earlier, func(e opv1.ProductReview) bool {
		return e.Reviewer == r.Reviewer && e.SHA256 == r.SHA256 && e.Stage != r.Stage
	})
}

func phaseOrNew(p opv1.ProductPhase) string {
	if p == "" {
		return "not yet sealed"
	}
	return string(p)
}

func sealedDigest(s *opv1.SealedArtifact) string {
	if s == nil {
		return "none yet"
	}
	return s.SHA256
}

// ImportCreate checks a new import: it is submitted without reviews.
func ImportCreate(m *opv1.DataImport) []*Violation {
	if len(m.Spec.Reviews) > 0 {
		return []*Violation{{Field: field.NewPath("spec", "reviews"), Reason: opv1.ReasonReviewNotIndependent,
			Message: "an import is reviewed once the operator has sealed it: submit it without reviews"}}
	}
	return nil
}

// ImportReviews checks what an update adds to an import's reviews (R4): the operator entity's
// reviewer, as themselves, who did not ask for it and is no person of the developer party, of
// the digest the operator sealed, while the import is in review; reviews are a record.
func ImportReviews(old, m *opv1.DataImport, c ProductCaller) []*Violation {
	reviews := field.NewPath("spec", "reviews")
	var out []*Violation
	add := func(path *field.Path, format string, args ...any) {
		out = append(out, &Violation{Field: path, Reason: opv1.ReasonReviewNotIndependent, Message: fmt.Sprintf(format, args...)})
	}
	n := len(old.Spec.Reviews)
	if !appendedOnly(old.Spec.Reviews, m.Spec.Reviews) {
		add(reviews, reviewsAreARecord)
		return out
	}
	sealed := old.Status.Sealed
	for i := n; i < len(m.Spec.Reviews); i++ {
		r, path := m.Spec.Reviews[i], reviews.Index(i)
		if v := independentReviewer(path.Child("reviewer"), r.Reviewer, m.Spec.SubmittedBy, c); v != nil {
			out = append(out, v)
			continue
		}
		switch {
		case old.Status.Phase != opv1.ImportInReview:
			add(path, "the import is %s, not InReview: nothing of it is awaiting a review", phaseOrNew(opv1.ProductPhase(old.Status.Phase)))
		case sealed == nil || r.SHA256 != sealed.SHA256:
			add(path.Child("sha256"), "%s is not the digest the operator sealed (%s): a review names exactly what it approved", r.SHA256, sealedDigest(sealed))
		}
	}
	return out
}

const reviewsAreARecord = "reviews are a record: append a review, never edit or remove one"

// appendedOnly says whether now is before with entries appended, none edited or removed.
func appendedOnly[T any](before, now []T) bool {
	return len(now) >= len(before) && equality.Semantic.DeepEqual(before, now[:len(before)])
}
