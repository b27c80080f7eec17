package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ProductType is what kind of data product leaves the domain.
// +kubebuilder:validation:Enum=Dataset;API;Model;Report
type ProductType string

// CheckResult is the outcome of one review point.
// +kubebuilder:validation:Enum=Pass;Fail
type CheckResult string

// ExportChecks are the six review points of JS art. 18, YC plan 五(四) and YN art. 22.
type ExportChecks struct {
	// purposeAndScope: the product fits the approved purpose and scope.
	// +optional
	PurposeAndScope CheckResult `json:"purposeAndScope,omitempty"`
	// lawfulSources: the sources are stated and lawful.
	// +optional
	LawfulSources CheckResult `json:"lawfulSources,omitempty"`
	// noRawOrSensitiveData: no raw or sensitive data is exposed.
	// +optional
	NoRawOrSensitiveData CheckResult `json:"noRawOrSensitiveData,omitempty"`
	// noPersonalInfoOrTradeSecret: no personal information or trade secret leaks.
	// +optional
	NoPersonalInfoOrTradeSecret CheckResult `json:"noPersonalInfoOrTradeSecret,omitempty"`
	// noCrossBorderTransfer: nothing is transferred across the border.
	// +optional
	NoCrossBorderTransfer CheckResult `json:"noCrossBorderTransfer,omitempty"`
	// noOtherRisk: no other risk was found.
	// +optional
	NoOtherRisk CheckResult `json:"noOtherRisk,omitempty"`
}

// ProductReview is one review stage of a product and its six checks.
type ProductReview struct {
	Review `json:",inline"`
	// checks are the six review points.
	// +optional
	Checks ExportChecks `json:"checks,omitempty"`
}

// ProductArtifact is where the product sits in the workspace before it leaves.
type ProductArtifact struct {
	// persistentVolumeClaim is the claim in the workspace namespace that holds the artifact.
	// +kubebuilder:validation:MaxLength=253
	// +required
	PersistentVolumeClaim string `json:"persistentVolumeClaim"`
	// path is the artifact's path inside the claim.
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Path string `json:"path"`
	// sha256 is the hex digest of the artifact as reviewed.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +optional
	SHA256 string `json:"sha256,omitempty"`
}

// Recipient is who receives the product.
type Recipient struct {
	// name is the recipient's name.
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
	// foreign marks a foreign or foreign-funded recipient; it needs a cross-border review (NJ 10).
	// +optional
	Foreign bool `json:"foreign,omitempty"`
}

// DataProductSpec is a product asking to leave the domain (R5).
type DataProductSpec struct {
	// authorization names the agreement the product was made under.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Authorization string `json:"authorization"`
	// workspace names the DeveloperWorkspace where the product was made.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Workspace string `json:"workspace"`
	// grants name the DataGrants whose data the product was made from.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Grants []string `json:"grants,omitempty"`
	// type is Dataset, API, Model or Report.
	// +required
	Type ProductType `json:"type"`
	// description says what the product is.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`
	// artifact is where the product sits before it leaves.
	// +required
	Artifact ProductArtifact `json:"artifact"`
	// recipients are who will receive the product.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Recipients []Recipient `json:"recipients,omitempty"`
	// technicalReview is the first review.
	// +optional
	TechnicalReview *ProductReview `json:"technicalReview,omitempty"`
	// comprehensiveReview is the second review.
	// +optional
	ComprehensiveReview *ProductReview `json:"comprehensiveReview,omitempty"`
	// crossBorderReview is required when a recipient is foreign.
	// +optional
	CrossBorderReview *ProductReview `json:"crossBorderReview,omitempty"`
}

// ProductPhase is where a product stands.
// +kubebuilder:validation:Enum=InReview;Approved;Published;Rejected;Delisted
type ProductPhase string

// DataProductStatus says where the product is.
type DataProductStatus struct {
	// phase is InReview, Approved, Published, Rejected or Delisted.
	// +optional
	Phase ProductPhase `json:"phase,omitempty"`
	// outbox is where the published artifact was copied.
	// +optional
	Outbox string `json:"outbox,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataProduct is the export airlock: the only thing that leaves the domain, after review (R5).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dprod,categories=opdomain
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Workspace",type=string,JSONPath=`.spec.workspace`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataProduct struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DataProductSpec `json:"spec"`
	// +optional
	Status DataProductStatus `json:"status,omitempty"`
}

// DataProductList is a list of DataProducts.
// +kubebuilder:object:root=true
type DataProductList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataProduct `json:"items"`
}

func init() {
	register(&DataProduct{}, &DataProductList{})
}
