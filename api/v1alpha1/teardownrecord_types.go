package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TeardownStep is one step of a teardown and what it acted on.
type TeardownStep struct {
	// name is the step: paths, identities, compute, data, namespace.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// completedAt is when the step finished; unset while it runs.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// objects are what the step revoked or destroyed. They are written down before they are
	// acted on, so a restart in the middle of a step loses nothing from the evidence.
	// +listType=atomic
	// +optional
	Objects []ObjectRecord `json:"objects,omitempty"`
}

// ProductEvidence is what the record of a product's or an import's event keeps: the bytes
// concerned, by digest, and every decision taken on them.
type ProductEvidence struct {
	// revision is the revision sealed.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// sha256 is the digest the operator computed when it sealed the artifact.
	// +kubebuilder:validation:Pattern=`^([a-f0-9]{64})?$`
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// size is the artifact's size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// checksOutcome and checksReportSHA256 are the automatic checks' outcome and the digest of
	// their report (status.checks of the product).
	// +optional
	ChecksOutcome string `json:"checksOutcome,omitempty"`
	// checksReportSHA256 is that report's digest (see checksOutcome).
	// +optional
	ChecksReportSHA256 string `json:"checksReportSHA256,omitempty"`
	// reviews are a product's reviews of the sealed digest, as given.
	// +listType=atomic
	// +optional
	Reviews []ProductReview `json:"reviews,omitempty"`
	// importReviews are an import's reviews of the sealed digest, as given.
	// +listType=atomic
	// +optional
	ImportReviews []ImportReview `json:"importReviews,omitempty"`
	// publishedAt names the outbox copy, once published.
	// +optional
	PublishedAt string `json:"publishedAt,omitempty"`
}

// DisclosureEvidence is a snapshot of a domain's public disclosure (R7), kept once a year so
// that what the domain disclosed can be proven later.
type DisclosureEvidence struct {
	// year is the calendar year (China Standard Time) at whose end the snapshot was taken.
	// +kubebuilder:validation:Minimum=2000
	// +required
	Year int32 `json:"year"`
	// sha256 is the digest of document.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +required
	SHA256 string `json:"sha256"`
	// document is the disclosure as served at /disclosure.json for this domain; empty when it
	// was larger than a record can hold, and then only its digest is kept.
	// +kubebuilder:validation:MaxLength=1048576
	// +optional
	Document string `json:"document,omitempty"`
}

// TeardownRecordSpec is the evidence of one teardown (R6), or of one terminal event of the
// airlock (a product published, rejected, withdrawn or delisted; R5). It is immutable once
// written.
type TeardownRecordSpec struct {
	// sequence is the record's place in its domain's chain, from 1.
	// +kubebuilder:validation:Minimum=1
	// +required
	Sequence int64 `json:"sequence"`
	// previousDigest is the digest of the domain's previous record; empty for the first.
	// +kubebuilder:validation:Pattern=`^([a-f0-9]{64})?$`
	// +optional
	PreviousDigest string `json:"previousDigest,omitempty"`
	// digest is the hex SHA-256 of the record's canonical content: this spec, as JSON, with
	// digest itself empty. Editing any field breaks it; removing a record breaks the chain.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +required
	Digest string `json:"digest"`
	// domain is the OperationDomain the teardown happened in.
	// +required
	Domain string `json:"domain"`
	// subject is the object torn down, or the product concerned.
	// +required
	Subject ObjectRecord `json:"subject"`
	// event is what happened to the subject: empty for a teardown, else one of the airlock's
	// terminal events, or Disclosed for the domain's yearly disclosure snapshot. A subject has
	// at most one record per event.
	// +kubebuilder:validation:Enum=Published;Rejected;Withdrawn;Delisted;Imported;Removed;Disclosed
	// +optional
	Event string `json:"event,omitempty"`
	// product is the airlock's evidence, for a product's event.
	// +optional
	Product *ProductEvidence `json:"product,omitempty"`
	// disclosure is the domain's public disclosure as it stood, for a Disclosed event.
	// +optional
	Disclosure *DisclosureEvidence `json:"disclosure,omitempty"`
	// authorization is the agreement the subject worked under.
	// +optional
	Authorization string `json:"authorization,omitempty"`
	// reason says why: the agreement's end reason, or the subject's deletion.
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Reason string `json:"reason"`
	// endedBy says who or what ended it: a user who deleted the object, or the operator on an
	// agreement's end.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	EndedBy string `json:"endedBy,omitempty"`
	// startedAt is when the teardown began.
	// +required
	StartedAt metav1.Time `json:"startedAt"`
	// completedAt is when the last step finished.
	// +required
	CompletedAt metav1.Time `json:"completedAt"`
	// steps are the ordered steps and what each revoked or destroyed.
	// +listType=atomic
	// +optional
	Steps []TeardownStep `json:"steps,omitempty"`
}

// TeardownRecord is the immutable evidence of what was revoked and destroyed, when and why (R6).
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tdr,categories=opdomain
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec) || self.spec == oldSelf.spec",message="a TeardownRecord is immutable once written"
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.domain`
// +kubebuilder:printcolumn:name="Seq",type=integer,JSONPath=`.spec.sequence`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.subject.kind`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Completed",type=date,JSONPath=`.spec.completedAt`
type TeardownRecord struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the evidence of one teardown (R6), or of one terminal event of the
	// airlock (a product published, rejected, withdrawn or delisted; R5). It is immutable once
	// written.
	// +required
	Spec TeardownRecordSpec `json:"spec"`
}

// TeardownRecordList is a list of TeardownRecords.
// +kubebuilder:object:root=true
type TeardownRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TeardownRecord `json:"items"`
}

func init() {
	register(&TeardownRecord{}, &TeardownRecordList{})
}
