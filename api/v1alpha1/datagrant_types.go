package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DataForm is the form in which granted data is delivered.
// +kubebuilder:validation:Enum=Raw;Desensitized;Sample
type DataForm string

// The values of DataForm.
const (
	FormRaw          DataForm = "Raw"
	FormDesensitized DataForm = "Desensitized"
	FormSample       DataForm = "Sample"
)

// Scenario is the one application scenario a grant serves.
type Scenario struct {
	// name is the scenario's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
	// purpose is what the data is used for.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Purpose string `json:"purpose"`
}

// GrantItem is one resource, the fields of it and the form it is delivered in.
type GrantItem struct {
	// resource names a DataResource in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Resource string `json:"resource"`
	// fields are the resource's fields granted, on the minimum-necessary principle.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=512
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +required
	Fields []string `json:"fields"`
	// form is Raw, Desensitized or Sample.
	// +required
	Form DataForm `json:"form"`
}

// Consent records the consent of the persons or firms a resource concerns (NJ 7).
type Consent struct {
	// reference identifies the consent evidence.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reference string `json:"reference,omitempty"`
}

// DataGrantSpec is one scenario, one list, one review (一场景一清单一审核, R4).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.review) || oldSelf.review.decision != 'Approved' || (self.items == oldSelf.items && self.scenario == oldSelf.scenario && self.workspace == oldSelf.workspace && self.requestedBy == oldSelf.requestedBy && self.term.end <= oldSelf.term.end)",message="items, scenario, workspace and requestedBy cannot change and term.end cannot move later once a grant is approved: a new scenario is a new grant"
type DataGrantSpec struct {
	// authorization names the agreement the grant is made under.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.authorization is immutable"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Authorization string `json:"authorization"`
	// workspace names the DeveloperWorkspace that receives the data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Workspace string `json:"workspace"`
	// scenario is the one scenario the grant serves.
	// +required
	Scenario Scenario `json:"scenario"`
	// items is the one list of resources, fields and forms.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=resource
	// +required
	Items []GrantItem `json:"items"`
	// term is when the grant is in force; never beyond its agreement's term.
	// +required
	Term Term `json:"term"`
	// measures are the protective measures promised for the scenario (JS art. 13(3), YC plan
	// 五(二)).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Measures string `json:"measures"`
	// consent is required when a resource holds personal information or trade secrets.
	// +optional
	Consent Consent `json:"consent,omitempty"`
	// requestedBy is the cluster identity of the person who applied.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	RequestedBy string `json:"requestedBy"`
	// review is the grant's review; the grant is inert until it is Approved. A Developer
	// agreement's grant is reviewed by the operator entity (JS art. 17, YC art. 11): a reviewer
	// holding the verb review on the grant. An Operator agreement's own grant is reviewed by the
	// authority (YN art. 20, HLJ art. 18, NJ 7): a reviewer holding the verb review on the
	// OperationDomain.
	// +optional
	Review *Review `json:"review,omitempty"`
	// securityAssessment is the operator entity's security assessment of a developer's need for
	// Raw data (YN art. 25(3)): where the domain's rawAssessments is Required, a Developer
	// agreement's grant with a Raw item is approved only with it. Recorded by one of the operator
	// entity's reviewers, as themselves.
	// +optional
	SecurityAssessment *SecurityAssessment `json:"securityAssessment,omitempty"`
	// providerReviews are, for a grant under an Operator agreement, the reviews of the data
	// providers of its resources (YN art. 20, HLJ art. 18, NJ 7): one per provider named by the
	// items' DataResources, each by a reviewer holding the verb review on every one of those
	// DataResources. The grant is inert until all are Approved. A Developer agreement's grant
	// has none.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=provider
	// +optional
	ProviderReviews []ProviderReview `json:"providerReviews,omitempty"`
}

// SecurityAssessment is the operator entity's assessment that a developer may work on raw data.
type SecurityAssessment struct {
	// assessor is the cluster identity of the operator entity's reviewer who assessed; admitted
	// only from that caller, holding the reviewer right on the grant.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Assessor string `json:"assessor"`
	// date is when the assessment concluded.
	// +required
	Date metav1.Time `json:"date"`
	// reference is where the assessment report is kept.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +required
	Reference string `json:"reference"`
}

// ProviderReview is a data provider's review of an operator's own grant.
type ProviderReview struct {
	// provider is the provider (a DataResource's spec.provider) the review speaks for.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Provider string `json:"provider"`
	Review   `json:",inline"`
}

// GrantPhase is where a grant stands.
// +kubebuilder:validation:Enum=Pending;Active;Suspended;Revoked;Expired
type GrantPhase string

const (
	// GrantPending means not yet approved, or not yet in term, or its agreement not yet active.
	GrantPending GrantPhase = "Pending"
	// GrantActive means the path is open.
	GrantActive GrantPhase = "Active"
	// GrantSuspended means the path is closed for now (agreement suspended, emergency stop, source
	// missing) and reopens by itself.
	GrantSuspended GrantPhase = "Suspended"
	// GrantRevoked means closed for good (review withdrawn, agreement ended, a rule broken).
	GrantRevoked GrantPhase = "Revoked"
	// GrantExpired means closed for good at the end of its term.
	GrantExpired GrantPhase = "Expired"
)

// Ended reports whether the phase is final.
func (p GrantPhase) Ended() bool { return p == GrantRevoked || p == GrantExpired }

// GrantCredential is a signed grant token a data service verifies offline.
type GrantCredential struct {
	// secretName is the Secret in the workspace namespace holding the token (key "token").
	// +required
	SecretName string `json:"secretName"`
	// keyID is the signing key, published in the data zone's JWKS ConfigMap.
	// +required
	KeyID string `json:"keyID"`
	// expiresAt is the token's exp: the grant's end, or its agreement's if earlier.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
	// tokenID is the token's jti. Introspection answers active only for the token of an
	// Active grant whose tokenID this is, so a closed grant's token is dead at once and a
	// reopened grant's earlier token stays dead.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TokenID string `json:"tokenID,omitempty"`
}

// DataGrantStatus says what the grant opened.
type DataGrantStatus struct {
	// conditions are Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is Pending, Active, Suspended, Revoked or Expired.
	// +optional
	Phase GrantPhase `json:"phase,omitempty"`
	// opened names the objects that make the grant's data path.
	// +listType=atomic
	// +optional
	Opened []ObjectRecord `json:"opened,omitempty"`
	// expiresAt is when the grant's path closes on its own.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// credential is the grant token issued into the workspace while the grant is Active.
	// +optional
	Credential *GrantCredential `json:"credential,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataGrant opens one reviewed data path from the catalog to one workspace for one scenario (R4).
// +kubebuilder:object:root=true
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 200",message="metadata.name may be at most 200 characters: the grant's policies are named after it"
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dgrant,categories=opdomain
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Workspace",type=string,JSONPath=`.spec.workspace`
// +kubebuilder:printcolumn:name="Scenario",type=string,JSONPath=`.spec.scenario.name`
// +kubebuilder:printcolumn:name="End",type=string,JSONPath=`.spec.term.end`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataGrant struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is one scenario, one list, one review (一场景一清单一审核, R4).
	// +required
	Spec DataGrantSpec `json:"spec"`
	// status says what the grant opened.
	// +optional
	Status DataGrantStatus `json:"status,omitempty"`
}

// DataGrantList is a list of DataGrants.
// +kubebuilder:object:root=true
type DataGrantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataGrant `json:"items"`
}

func init() {
	register(&DataGrant{}, &DataGrantList{})
}
