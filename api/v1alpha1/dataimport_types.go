package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImportReview is the operator entity's review of one sealed revision of an import, given by
// the reviewer signed in as themselves.
type ImportReview struct {
	// reviewer is the cluster identity of the person who reviewed: the caller who wrote it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Reviewer string `json:"reviewer"`
	// sha256 is the sealed digest reviewed (status.sealed.sha256); a review of any other
	// digest does not count.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +required
	SHA256 string `json:"sha256"`
	// decision is Approved, ChangesRequested or Rejected.
	// +required
	Decision ProductDecision `json:"decision"`
	// time is when the decision was taken.
	// +required
	Time metav1.Time `json:"time"`
	// comment is the reviewer's reasoning: the source's lawfulness, and for personal
	// information its legal basis.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Comment string `json:"comment"`
}

// PersonalInformation declares that an import holds personal information, and on what basis.
type PersonalInformation struct {
	// legalBasis is why it may be processed (consent, a law, a contract…).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	LegalBasis string `json:"legalBasis"`
}

// DataImportSpec is outside ("social") data or code asking to come into a workspace (R4).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.revision) || self.revision >= oldSelf.revision",message="spec.revision may only grow"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.withdrawn) || !oldSelf.withdrawn || self.withdrawn",message="spec.withdrawn cannot be undone"
type DataImportSpec struct {
	// authorization names the agreement the import serves.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.authorization is immutable"
	// +required
	Authorization string `json:"authorization"`
	// workspace names the DeveloperWorkspace it is delivered into.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.workspace is immutable"
	// +required
	Workspace string `json:"workspace"`
	// submittedBy is the cluster identity of the person who asks for it; they may not review it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.submittedBy is immutable"
	// +required
	SubmittedBy string `json:"submittedBy"`
	// source says where the data or code comes from, outside the domain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Source string `json:"source"`
	// description says what it is.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`
	// artifact is where it waits in the domain's inbox namespace (<domain>-inbox): a claim there
	// and one file in it.
	// +required
	Artifact ProductArtifact `json:"artifact"`
	// personalInformation declares personal information and its legal basis; without it, an
	// import with personal identifiers is returned.
	// +optional
	PersonalInformation *PersonalInformation `json:"personalInformation,omitempty"`
	// revision counts submissions: raise it to submit the artifact again (after a return).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// reviews are the operator entity's decisions, one per sealed digest.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Reviews []ImportReview `json:"reviews,omitempty"`
	// withdrawn takes the import out of the airlock, or out of the workspace, for good.
	// +optional
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// ImportPhase is where an import stands.
// +kubebuilder:validation:Enum=Sealing;Checking;InReview;Approved;Delivered;Returned;Rejected;Withdrawn;Failed;Removed
type ImportPhase string

// The values of ImportPhase.
const (
	ImportSealing   ImportPhase = "Sealing"
	ImportChecking  ImportPhase = "Checking"
	ImportInReview  ImportPhase = "InReview"
	ImportApproved  ImportPhase = "Approved"
	ImportDelivered ImportPhase = "Delivered"
	ImportReturned  ImportPhase = "Returned"
	ImportRejected  ImportPhase = "Rejected"
	ImportWithdrawn ImportPhase = "Withdrawn"
	ImportFailed    ImportPhase = "Failed"
	// ImportRemoved means delivered, then withdrawn or its workspace or agreement ended; destroyed.
	ImportRemoved ImportPhase = "Removed"
)

// DeliveredCopy is where an import was delivered, read-only.
type DeliveredCopy struct {
	// location is the workspace namespace, claim and path of the copy.
	Location string `json:"location"`
	// claim is the claim in the workspace namespace; pods mount it read-only.
	Claim string `json:"claim"`
	// sha256 is the copy's digest, verified equal to the sealed one.
	SHA256 string `json:"sha256"`
	// at is when it was delivered.
	At metav1.Time `json:"at"`
	// record is the TeardownRecord of the domain's evidence chain that records the import.
	// +optional
	Record string `json:"record,omitempty"`
}

// DataImportStatus says where the import is.
type DataImportStatus struct {
	// conditions are Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is where the import stands.
	// +optional
	Phase          ImportPhase `json:"phase,omitempty"`
	ArtifactStatus `json:",inline"`
	// delivered is where the approved bytes were delivered.
	// +optional
	Delivered *DeliveredCopy `json:"delivered,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataImport is the entrance airlock: outside data or code comes into a workspace only after
// the operator sealed, checked and the operator entity reviewed it (R4).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dimp,categories=opdomain
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Rev",type=integer,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="SHA256",type=string,JSONPath=`.status.sealed.sha256`,priority=1
// +kubebuilder:printcolumn:name="Workspace",type=string,JSONPath=`.spec.workspace`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataImport struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is outside ("social") data or code asking to come into a workspace (R4).
	// +required
	Spec DataImportSpec `json:"spec"`
	// status says where the import is.
	// +optional
	Status DataImportStatus `json:"status,omitempty"`
}

// DataImportList is a list of DataImports.
// +kubebuilder:object:root=true
type DataImportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataImport `json:"items"`
}

func init() {
	register(&DataImport{}, &DataImportList{})
}
