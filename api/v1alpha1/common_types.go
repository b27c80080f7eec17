package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Term is a period in force: from start (inclusive) to end (exclusive).
// +kubebuilder:validation:XValidation:rule="self.end > self.start",message="term.end must be after term.start"
type Term struct {
	// start is when the term begins.
	// +required
	Start metav1.Time `json:"start"`
	// end is when the term ends; access stops at this instant.
	// +required
	End metav1.Time `json:"end"`
}

// Contains reports whether t is inside the term.
func (t Term) Contains(at metav1.Time) bool {
	return !at.Before(&t.Start) && at.Before(&t.End)
}

// ObjectRecord names one Kubernetes object as evidence.
type ObjectRecord struct {
	// kind is the object's kind, e.g. RoleBinding.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Kind string `json:"kind"`
	// namespace is the object's namespace; empty for cluster-scoped objects.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name is the object's name.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// uid is the object's UID when it was acted on.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	UID string `json:"uid,omitempty"`
	// detail says anything else a regulator needs, e.g. a volume's reclaim policy.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Detail string `json:"detail,omitempty"`
}

// ReviewDecision is the outcome of a human review.
// +kubebuilder:validation:Enum=Pending;Approved;Rejected
type ReviewDecision string

// The values of ReviewDecision.
const (
	ReviewPending  ReviewDecision = "Pending"
	ReviewApproved ReviewDecision = "Approved"
	ReviewRejected ReviewDecision = "Rejected"
)

// Review is a decision taken by a named reviewer.
type Review struct {
	// reviewer is the cluster identity of the person who reviewed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Reviewer string `json:"reviewer"`
	// decision is Pending, Approved or Rejected.
	// +kubebuilder:default=Pending
	// +optional
	Decision ReviewDecision `json:"decision,omitempty"`
	// time is when the decision was taken.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// comment is the reviewer's reasoning.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Comment string `json:"comment,omitempty"`
}
