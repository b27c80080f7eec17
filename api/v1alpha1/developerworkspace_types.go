package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DeveloperWorkspaceSpec is where a party's people work on granted data (R3).
type DeveloperWorkspaceSpec struct {
	// authorization names the agreement, in the same namespace, the workspace works under.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.authorization is immutable"
	// +required
	Authorization string `json:"authorization"`
	// members are the cluster identities (persons[].user of the agreement) who get access.
	// Only trained persons of the agreement receive a credential.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Members []string `json:"members,omitempty"`
	// credentialTTL is how long a member credential lives before rotation; 10m to 24h.
	// Defaults to the domain's workspaceDefaults.credentialTTL.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('24h')",message="credentialTTL must be between 10m and 24h"
	// +optional
	CredentialTTL *metav1.Duration `json:"credentialTTL,omitempty"`
	// resources is the workspace quota; each unset value falls back to the domain's
	// workspaceDefaults.quota.
	// +optional
	Resources WorkspaceQuota `json:"resources,omitempty"`
}

// WorkspacePhase is where a workspace stands.
// +kubebuilder:validation:Enum=Provisioning;Ready;Suspended;TearingDown;TornDown
type WorkspacePhase string

// The values of WorkspacePhase.
const (
	WorkspaceProvisioning WorkspacePhase = "Provisioning"
	WorkspaceReady        WorkspacePhase = "Ready"
	WorkspaceSuspended    WorkspacePhase = "Suspended"
	WorkspaceTearingDown  WorkspacePhase = "TearingDown"
	WorkspaceTornDown     WorkspacePhase = "TornDown"
)

// Credential is a member's current credential.
type Credential struct {
	// member is the person's cluster identity.
	// +required
	Member string `json:"member"`
	// serviceAccount is the identity the credential authenticates as.
	// +required
	ServiceAccount string `json:"serviceAccount"`
	// secretName is the Secret, in the control namespace, that holds the member's kubeconfig.
	// Deleting it revokes the token at once.
	// +required
	SecretName string `json:"secretName"`
	// expiresAt is when the token stops working on its own.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
	// renewAt is when the operator replaces it (about 80% of its life).
	// +optional
	RenewAt *metav1.Time `json:"renewAt,omitempty"`
}

// TeardownProgress records an ordered, resumable teardown (R6).
type TeardownProgress struct {
	// reason says why the teardown began.
	// +required
	Reason string `json:"reason"`
	// endedBy says who or what began it.
	// +optional
	EndedBy string `json:"endedBy,omitempty"`
	// startedAt is when the teardown began.
	// +required
	StartedAt metav1.Time `json:"startedAt"`
	// steps holds, in order, each step begun and what it revoked and destroyed.
	// +listType=atomic
	// +optional
	Steps []TeardownStep `json:"steps,omitempty"`
	// record is the TeardownRecord written at the end.
	// +optional
	Record string `json:"record,omitempty"`
}

// ImportedData is one import delivered into a workspace.
type ImportedData struct {
	// name is the DataImport.
	Name string `json:"name"`
	// claim is the claim in the workspace namespace that holds it; mount it read-only.
	Claim string `json:"claim"`
	// sha256 is the digest of the delivered bytes.
	SHA256 string `json:"sha256"`
	// source is where it came from.
	Source string `json:"source"`
}

// DeveloperWorkspaceStatus is what the operator built for a workspace.
type DeveloperWorkspaceStatus struct {
	// conditions are Ready, Reconciling, Stalled, NetworkIsolated, AccessGranted, EmergencyStop.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is Provisioning, Ready, Suspended, TearingDown or TornDown.
	// +optional
	Phase WorkspacePhase `json:"phase,omitempty"`
	// namespace is the workspace namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// credentials are the members' current credentials.
	// +listType=map
	// +listMapKey=member
	// +optional
	Credentials []Credential `json:"credentials,omitempty"`
	// imports is the workspace's import catalog: the outside data delivered into it, read-only,
	// after review (DataImport, R4).
	// +listType=map
	// +listMapKey=name
	// +optional
	Imports []ImportedData `json:"imports,omitempty"`
	// teardown records the progress of an ordered teardown.
	// +optional
	Teardown *TeardownProgress `json:"teardown,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DeveloperWorkspace is an isolated namespace where a party's trained people process granted
// data, with expiring credentials and no way to carry data out (R3).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dws,categories=opdomain
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Authorization",type=string,JSONPath=`.spec.authorization`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeveloperWorkspace struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is where a party's people work on granted data (R3).
	// +required
	Spec DeveloperWorkspaceSpec `json:"spec"`
	// status is what the operator built for a workspace.
	// +optional
	Status DeveloperWorkspaceStatus `json:"status,omitempty"`
}

// DeveloperWorkspaceList is a list of DeveloperWorkspaces.
// +kubebuilder:object:root=true
type DeveloperWorkspaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeveloperWorkspace `json:"items"`
}

func init() {
	register(&DeveloperWorkspace{}, &DeveloperWorkspaceList{})
}

// Step returns the teardown step with the given name, adding it when it is not there yet.
func (t *TeardownProgress) Step(name string) *TeardownStep {
	for i := range t.Steps {
		if t.Steps[i].Name == name {
			return &t.Steps[i]
		}
	}
	t.Steps = append(t.Steps, TeardownStep{Name: name})
	return &t.Steps[len(t.Steps)-1]
}
