package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Role is the kind of party an agreement authorizes.
// +kubebuilder:validation:Enum=Operator;Developer
type Role string

const (
	// RoleOperator is the operator entity (运营主体), authorized by the data authority.
	RoleOperator Role = "Operator"
	// RoleDeveloper is a developer entity (开发主体), authorized by an operator entity.
	RoleDeveloper Role = "Developer"
)

// AuthorizationPhase is where an agreement stands in its lifecycle.
// +kubebuilder:validation:Enum=Pending;Active;Suspended;Expired;Terminated
type AuthorizationPhase string

// The values of AuthorizationPhase.
const (
	PhasePending    AuthorizationPhase = "Pending"
	PhaseActive     AuthorizationPhase = "Active"
	PhaseSuspended  AuthorizationPhase = "Suspended"
	PhaseExpired    AuthorizationPhase = "Expired"
	PhaseTerminated AuthorizationPhase = "Terminated"
)

// Ended reports whether the phase is final.
func (p AuthorizationPhase) Ended() bool { return p == PhaseExpired || p == PhaseTerminated }

// EndReason is why an agreement ended: the closed list of JS art. 28 and YC art. 23.
// +kubebuilder:validation:Enum=TermExpired;VoluntaryRequest;Breach;EvaluationFailed;NotRectified;SecurityIncident;PolicyChange;LawViolation;ParentEnded;Other
type EndReason string

// The values of EndReason.
const (
	EndTermExpired      EndReason = "TermExpired"
	EndVoluntaryRequest EndReason = "VoluntaryRequest"
	EndBreach           EndReason = "Breach"
	// EndEvaluationFailed is a failed evaluation not remedied: failures in a row where the
	// domain's policy ends on them, or a Rectify evaluation whose period passed unremedied.
	EndEvaluationFailed EndReason = "EvaluationFailed"
	// EndNotRectified is a suspension (a regulator's order, a security risk) not lifted by its
	// rectification deadline, where the domain's policy terminates on it (JS art. 26, YC art. 22,
	// HLJ art. 30): recorded as what it was, not as a failed evaluation.
	EndNotRectified     EndReason = "NotRectified"
	EndSecurityIncident EndReason = "SecurityIncident"
	EndPolicyChange     EndReason = "PolicyChange"
	EndLawViolation     EndReason = "LawViolation"
	EndParentEnded      EndReason = "ParentEnded"
	// EndOther is an end the list does not name ("其他情形" where a text leaves the list open);
	// its note says what it was.
	EndOther EndReason = "Other"
)

// SuspensionReason is why an agreement is suspended.
// +kubebuilder:validation:Enum=RegulatorOrder;EvaluationRectification;SecurityRisk
type SuspensionReason string

// The values of SuspensionReason.
const (
	SuspensionRegulatorOrder          SuspensionReason = "RegulatorOrder"
	SuspensionEvaluationRectification SuspensionReason = "EvaluationRectification"
	SuspensionSecurityRisk            SuspensionReason = "SecurityRisk"
)

// ValidCreditCode says whether an 18-character unified social credit code's check character
// (its last) is the one GB 32100-2015 computes from the other seventeen.
func ValidCreditCode(code string) bool {
	if len(code) != 18 {
		return false
	}
	check, ok := CreditCodeCheck(code[:17])
	return ok && code[17] == check
}

// CreditCodeCheck is the check character GB 32100-2015 gives the first seventeen characters of
// a unified social credit code; false when they are not seventeen of its alphabet.
func CreditCodeCheck(body string) (byte, bool) {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	if len(body) != len(weights) {
		return 0, false
	}
	sum := 0
	for i, w := range weights {
		v := strings.IndexByte(alphabet, body[i])
		if v < 0 {
			return 0, false
		}
		sum += v * w
	}
	return alphabet[(31-sum%31)%31], true
}

// Party is the legal entity an agreement authorizes.
type Party struct {
	// name is the entity's registered name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
	// creditCode is the entity's 18-character unified social credit code (统一社会信用代码).
	// +kubebuilder:validation:Pattern=`^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$`
	// +required
	CreditCode string `json:"creditCode"`
	// securityOfficer is the person responsible for data security at the entity.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	SecurityOfficer string `json:"securityOfficer,omitempty"`
}

// Scope is what an agreement covers.
type Scope struct {
	// resources names the DataResources the agreement covers.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Resources []string `json:"resources,omitempty"`
	// scenarios names the application scenarios the agreement covers.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Scenarios []string `json:"scenarios,omitempty"`
}

// Person is a real-name person of the party, mapped to a cluster identity (R3).
type Person struct {
	// name is the person's real name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
	// user is the person's cluster identity, as the cluster's authenticator names it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	User string `json:"user"`
	// trainedAt is when the person completed security and compliance training; a person
	// without it gets no access. NJ 6 trains the operator unit's staff; opdomain requires it of
	// everyone (the platform's stricter choice).
	// +optional
	TrainedAt *metav1.Time `json:"trainedAt,omitempty"`
	// undertakingSignedAt is when the person signed the confidentiality undertaking (YN art.
	// 25(1)); where the domain's agreementPolicy.undertakings is Required, a person without it
	// gets no access.
	// +optional
	UndertakingSignedAt *metav1.Time `json:"undertakingSignedAt,omitempty"`
}

// AgreementDocument points at the signed agreement.
type AgreementDocument struct {
	// uri is where the signed agreement is kept.
	// +kubebuilder:validation:MaxLength=2048
	// +required
	URI string `json:"uri"`
	// sha256 is the hex SHA-256 digest of the signed document.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +required
	SHA256 string `json:"sha256"`
}

// EvaluationResult is the outcome of a periodic evaluation (YN art. 26).
// +kubebuilder:validation:Enum=Pass;Fail;Rectify
type EvaluationResult string

// The values of EvaluationResult.
const (
	EvaluationPass    EvaluationResult = "Pass"
	EvaluationFail    EvaluationResult = "Fail"
	EvaluationRectify EvaluationResult = "Rectify"
)

// Evaluation is one periodic evaluation of the party's use of data (JS art. 27, NJ 14).
type Evaluation struct {
	// period names the period evaluated, e.g. 2025-H1.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	Period string `json:"period"`
	// result is Pass, Fail or Rectify. Rectify gives the party the domain's rectificationDays
	// from date to remedy, before a later evaluation; the domain's agreementPolicy says whether
	// access is suspended meanwhile, whether an unremedied period terminates, and how many Fail
	// in a row do.
	// +required
	Result EvaluationResult `json:"result"`
	// date is when the evaluation concluded.
	// +required
	Date metav1.Time `json:"date"`
	// note explains the result.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Note string `json:"note,omitempty"`
}

// Suspension cuts access under an agreement while keeping its data.
type Suspension struct {
	// reason is RegulatorOrder, EvaluationRectification or SecurityRisk.
	// +required
	Reason SuspensionReason `json:"reason"`
	// note explains the suspension.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Note string `json:"note,omitempty"`
}

// Termination ends an agreement for good.
// +kubebuilder:validation:XValidation:rule="self.reason != 'Other' || (has(self.note) && size(self.note) > 0)",message="spec.termination.note is required when the reason is Other: it says what ended the agreement"
type Termination struct {
	// reason is one of the known end reasons, or Other with a note.
	// +required
	Reason EndReason `json:"reason"`
	// note explains the termination; required with reason Other.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Note string `json:"note,omitempty"`
}

// AuthorizationSpec is an agreement with a scope and a term (R2).
// +kubebuilder:validation:XValidation:rule="self.role == 'Developer' ? has(self.parent) : !has(self.parent)",message="spec.parent is required for a Developer agreement and forbidden for an Operator agreement"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.termination) || (has(self.termination) && self.termination == oldSelf.termination)",message="spec.termination is one-way: once set it can be neither removed nor changed"
type AuthorizationSpec struct {
	// role is Operator or Developer.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.role is immutable"
	// +required
	Role Role `json:"role"`
	// parent names the Operator agreement a Developer agreement hangs under.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.parent is immutable"
	// +optional
	Parent string `json:"parent,omitempty"`
	// party is the entity authorized.
	// +required
	Party Party `json:"party"`
	// term is when the agreement is in force.
	// +required
	Term Term `json:"term"`
	// scope is what data and scenarios the agreement covers.
	// +optional
	Scope Scope `json:"scope,omitempty"`
	// persons are the real-name people of the party who may process data.
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=user
	// +optional
	Persons []Person `json:"persons,omitempty"`
	// agreement points at the signed document.
	// +optional
	Agreement *AgreementDocument `json:"agreement,omitempty"`
	// evaluations are the periodic evaluations, oldest first.
	// +kubebuilder:validation:MaxItems=128
	// +listType=atomic
	// +optional
	Evaluations []Evaluation `json:"evaluations,omitempty"`
	// suspension cuts all access under the agreement while set, and keeps its data. Unlifted
	// at status.rectificationDeadline, it terminates the agreement (NotRectified, or
	// EvaluationFailed for an EvaluationRectification suspension) where the domain's
	// agreementPolicy.whenUnremedied is Terminate.
	// +optional
	Suspension *Suspension `json:"suspension,omitempty"`
	// termination ends the agreement early; it is one-way.
	// +optional
	Termination *Termination `json:"termination,omitempty"`
}

// AuthorizationStatus is where the agreement stands.
type AuthorizationStatus struct {
	// conditions are Ready, Reconciling, Stalled, TermValid.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is Pending, Active, Suspended, Expired or Terminated.
	// +optional
	Phase AuthorizationPhase `json:"phase,omitempty"`
	// endReason says why an ended agreement ended.
	// +optional
	EndReason EndReason `json:"endReason,omitempty"`
	// endedAt is when the agreement ended.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`
	// endMessage says in words what ended the agreement, as its TeardownRecord does.
	// +optional
	EndMessage string `json:"endMessage,omitempty"`
	// suspendedAt is when the current suspension began.
	// +optional
	SuspendedAt *metav1.Time `json:"suspendedAt,omitempty"`
	// rectificationDeadline is when the current rectification period ends: a Rectify
	// evaluation's date, or suspendedAt, plus the domain's rectificationDays.
	// +optional
	RectificationDeadline *metav1.Time `json:"rectificationDeadline,omitempty"`
	// teardownRecord is the TeardownRecord written when the agreement ended, once every
	// workspace under it was torn down.
	// +optional
	TeardownRecord string `json:"teardownRecord,omitempty"`
	// nextTransition is the next instant the phase may change on its own.
	// +optional
	NextTransition *metav1.Time `json:"nextTransition,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Authorization is an agreement between the authority, the operator entity or a developer
// entity: a party, a scope, a term and the people who act under it (R2).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=authz,categories=opdomain
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase == 'Pending' || (self.spec.party == oldSelf.spec.party && self.spec.term.end <= oldSelf.spec.term.end)",message="spec.party cannot change and spec.term.end cannot move later once an agreement has been active: a renewal is a new agreement"
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Party",type=string,JSONPath=`.spec.party.name`
// +kubebuilder:printcolumn:name="Start",type=string,JSONPath=`.spec.term.start`
// +kubebuilder:printcolumn:name="End",type=string,JSONPath=`.spec.term.end`
// +kubebuilder:printcolumn:name="Deadline",type=string,JSONPath=`.status.rectificationDeadline`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Authorization struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is an agreement with a scope and a term (R2).
	// +required
	Spec AuthorizationSpec `json:"spec"`
	// status is where the agreement stands.
	// +optional
	Status AuthorizationStatus `json:"status,omitempty"`
}

// PersonByUser returns the agreement's person with the given cluster identity.
func (a *Authorization) PersonByUser(user string) (Person, bool) {
	for _, p := range a.Spec.Persons {
		if p.User == user {
			return p, true
		}
	}
	return Person{}, false
}

// AuthorizationList is a list of Authorizations.
// +kubebuilder:object:root=true
type AuthorizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Authorization `json:"items"`
}

func init() {
	register(&Authorization{}, &AuthorizationList{})
}
