package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NetworkPolicyMode says which policy API renders the domain's isolation.
// +kubebuilder:validation:Enum=Kubernetes;Cilium;Both
type NetworkPolicyMode string

// The values of NetworkPolicyMode.
const (
	NetworkPolicyKubernetes NetworkPolicyMode = "Kubernetes"
	NetworkPolicyCilium     NetworkPolicyMode = "Cilium"
	NetworkPolicyBoth       NetworkPolicyMode = "Both"
)

// Kubernetes reports whether Kubernetes NetworkPolicies are rendered.
func (m NetworkPolicyMode) Kubernetes() bool { return m != NetworkPolicyCilium }

// Cilium reports whether CiliumNetworkPolicies are rendered.
func (m NetworkPolicyMode) Cilium() bool { return m == NetworkPolicyCilium || m == NetworkPolicyBoth }

// Authority is the data authority that grants the domain (数据主管部门).
type Authority struct {
	// name is the authority's official name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
	// contact is how to reach the authority's responsible office.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Contact string `json:"contact,omitempty"`
}

// Rulebook names the region whose text a domain operates under (R2–R6). It sets the default of
// every policy the texts decide; a domain may override a value only in the stricter direction,
// unless its rulebook is Custom. Yancheng and Nanjing are cities of Jiangsu: their rulebooks are
// Jiangsu's with the city's own rules on top.
// +kubebuilder:validation:Enum=Jiangsu;Yancheng;Yunnan;Heilongjiang;Nanjing;Custom
type Rulebook string

// The values of Rulebook.
const (
	RulebookJiangsu      Rulebook = "Jiangsu"
	RulebookYancheng     Rulebook = "Yancheng"
	RulebookYunnan       Rulebook = "Yunnan"
	RulebookHeilongjiang Rulebook = "Heilongjiang"
	RulebookNanjing      Rulebook = "Nanjing"
	// RulebookCustom starts from Jiangsu's values and lets the domain change any of them, within
	// the schema's bounds (national law's floors).
	RulebookCustom Rulebook = "Custom"
)

// DuringRectification says what an agreement may do while it remedies a Rectify evaluation.
// +kubebuilder:validation:Enum=Continue;Suspend
type DuringRectification string

const (
	// RectificationContinues keeps access while the party rectifies (YN art. 26 suspends nothing).
	RectificationContinues DuringRectification = "Continue"
	// RectificationSuspends cuts access until a later evaluation passes.
	RectificationSuspends DuringRectification = "Suspend"
)

// WhenUnremedied says what happens when a rectification period passes without a remedy: no
// later evaluation after a Rectify one, or a suspension still in force.
// +kubebuilder:validation:Enum=Reevaluate;Terminate
type WhenUnremedied string

const (
	// UnremediedReevaluate flags the re-evaluation as overdue and leaves the decision to the
	// evaluator (YN art. 26: the result is "an important basis" for continuing).
	UnremediedReevaluate WhenUnremedied = "Reevaluate"
	// UnremediedTerminate ends the agreement (JS art. 26, YC art. 22, HLJ art. 29–30).
	UnremediedTerminate WhenUnremedied = "Terminate"
)

// BarPolicy says how an agreement ended for Breach, SecurityIncident or LawViolation bars its
// party from new agreements.
// +kubebuilder:validation:Enum=Propose;Automatic
type BarPolicy string

const (
	// BarProposed lists the party in status.proposedBars; the authority decides, case by case, by
	// adding it to spec.blacklist (YN art. 21).
	BarProposed BarPolicy = "Propose"
	// BarAutomatic bars the party at once, in status.blacklist.
	BarAutomatic BarPolicy = "Automatic"
)

// Requirement says whether a record is required before access, or only kept when given.
// +kubebuilder:validation:Enum=Optional;Required
type Requirement string

// The values of Requirement.
const (
	Optional Requirement = "Optional"
	Required Requirement = "Required"
)

// AgreementPolicy bounds every agreement in the domain (R2). Every field left unset takes the
// rulebook's value; status.policy shows the values in force and the article of each.
type AgreementPolicy struct {
	// maxOperatorTermYears is the longest term of an Operator agreement, in calendar years:
	// 3 (JS art. 8, YC art. 6, HLJ art. 14(2)); Yunnan allows 5 (YN art. 11(2)).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +optional
	MaxOperatorTermYears int32 `json:"maxOperatorTermYears,omitempty"`
	// maxDeveloperTermYears is the longest term of a Developer agreement, in calendar years
	// (3: JS art. 8, YC art. 6, YN art. 13).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3
	// +optional
	MaxDeveloperTermYears int32 `json:"maxDeveloperTermYears,omitempty"`
	// rectificationDays is how long a party has to remedy a Rectify evaluation (counted from the
	// evaluation's date) or a suspension (from its start): 30 (YN art. 26).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	// +optional
	RectificationDays int32 `json:"rectificationDays,omitempty"`
	// duringRectification is Continue (access stays while the party rectifies, as YN art. 26
	// reads) or Suspend (access is cut until a later evaluation passes).
	// +optional
	DuringRectification DuringRectification `json:"duringRectification,omitempty"`
	// whenUnremedied is what a rectification period passed without a remedy does: Reevaluate
	// (the re-evaluation is flagged overdue, YN art. 26) or Terminate (JS art. 26, YC art. 22,
	// HLJ art. 29–30).
	// +optional
	WhenUnremedied WhenUnremedied `json:"whenUnremedied,omitempty"`
	// failedEvaluationsToEnd is how many failed evaluations in a row terminate an agreement
	// (Nanjing: 2, NJ 14). Unset where the rulebook sets none: a failure then only warns.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=12
	// +optional
	FailedEvaluationsToEnd int32 `json:"failedEvaluationsToEnd,omitempty"`
	// developerEvaluationMonths is how often a Developer agreement is evaluated: every 6 months
	// (YC plan 八(四)1). An evaluation overdue raises EvaluationWarning (EvaluationOverdue).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=24
	// +optional
	DeveloperEvaluationMonths int32 `json:"developerEvaluationMonths,omitempty"`
	// operatorEvaluationMonths is how often an Operator agreement is evaluated: yearly (YC art.
	// 18, YC plan 八(四)3, NJ 14).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=24
	// +optional
	OperatorEvaluationMonths int32 `json:"operatorEvaluationMonths,omitempty"`
	// bars is Propose (an ending for Breach, SecurityIncident or LawViolation proposes a bar the
	// authority confirms in spec.blacklist, YN art. 21) or Automatic (the ending bars the party).
	// +optional
	Bars BarPolicy `json:"bars,omitempty"`
	// undertakings is Required (a person gets no access before a signed confidentiality
	// undertaking is recorded, YN art. 25(1)) or Optional.
	// +optional
	Undertakings Requirement `json:"undertakings,omitempty"`
	// rawAssessments is Required (a developer's grant of Raw data is approved only with the
	// operator entity's security assessment recorded on it, YN art. 25(3)) or Optional.
	// +optional
	RawAssessments Requirement `json:"rawAssessments,omitempty"`
}

// WorkspaceQuota is the compute and storage a workspace may use.
type WorkspaceQuota struct {
	// cpu is the total CPU that the workspace's pods may request and be limited to.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory is the total memory that the workspace's pods may request and be limited to.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
	// storage is the total storage that the workspace's PersistentVolumeClaims may request.
	// +optional
	Storage *resource.Quantity `json:"storage,omitempty"`
	// pods is the number of pods the workspace may run at once.
	// +optional
	Pods *resource.Quantity `json:"pods,omitempty"`
}

// ContainerDefaults are the requests and limits given to a container that sets none.
type ContainerDefaults struct {
	// cpu is the default CPU request and limit of a container.
	// +kubebuilder:default="500m"
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory is the default memory request and limit of a container.
	// +kubebuilder:default="512Mi"
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// WorkspaceDefaults apply to every workspace that does not say otherwise.
type WorkspaceDefaults struct {
	// credentialTTL is how long a member's credential lives before it is rotated; 10m to 24h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('24h')",message="credentialTTL must be between 10m and 24h"
	// +kubebuilder:default="8h"
	// +optional
	CredentialTTL *metav1.Duration `json:"credentialTTL,omitempty"`
	// quota is the ResourceQuota of a workspace that sets no resources of its own.
	// +optional
	Quota WorkspaceQuota `json:"quota,omitempty"`
	// containerDefaults feed the workspace LimitRange.
	// +kubebuilder:default={}
	// +optional
	ContainerDefaults ContainerDefaults `json:"containerDefaults,omitempty"`
	// storageClassName is the StorageClass workspace volumes are expected to use.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName string `json:"storageClassName,omitempty"`
}

// BlacklistEntry bars a party from new agreements in the domain (YN art. 21).
type BlacklistEntry struct {
	// creditCode is the party's unified social credit code.
	// +kubebuilder:validation:Pattern=`^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$`
	// +required
	CreditCode string `json:"creditCode"`
	// name is the party's registered name.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`
	// reason says why the party is barred.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Reason string `json:"reason"`
	// since is when the bar began.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// ImagePolicy says which container images may run in the domain's namespaces. An image is
// code and data brought in from outside, so it is an import (R4): only registries the operator
// has reviewed serve the domain.
type ImagePolicy struct {
	// allowedRegistries are the registries, each a host with an optional port and path prefix
	// (registry.example.org, registry.example.org:5000/team), that images may come from. An
	// image is admitted only when its reference starts with one of them followed by "/"; a
	// short name such as "busybox" matches none. A domain that lists none admits no image.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*$`
	// +listType=set
	// +optional
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`
	// requireDigest admits only images pinned by digest (name@sha256:<64 hex>), so what runs is
	// exactly what was reviewed, whatever a registry later serves under the tag.
	// +optional
	RequireDigest bool `json:"requireDigest,omitempty"`
}

// DNSPolicy says how the domain's pods resolve names (R1): names of the cluster only, so that
// no query carries data to a resolver outside.
type DNSPolicy struct {
	// clusterDomain is the cluster's DNS domain. Only names under it are resolved; reverse
	// zones and every other name are refused.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:default="cluster.local"
	// +optional
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// resolver names the Service of a resolver that answers the cluster's names and forwards
	// nothing (config/dns installs one). The domain's pods may reach only its pods for DNS and
	// are set to ask it. Unset, they use the cluster's resolver, which forwards other names
	// upstream; NetworkPolicy cannot filter names, so DNS is then contained only where Cilium
	// renders the isolation (networkPolicy: Cilium) and filters every query by name.
	// +optional
	Resolver *ServiceReference `json:"resolver,omitempty"`
}

// ServiceReference names a Service in another namespace.
type ServiceReference struct {
	// namespace is the Service's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`
	// name is the Service's name.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
}

// EmergencyStop cuts every data path and credential in the domain at once, keeping all data (R7).
type EmergencyStop struct {
	// active cuts all access in the domain while true.
	// +optional
	Active bool `json:"active"`
	// reason says why the stop was pulled; it shows on every affected object.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reason string `json:"reason,omitempty"`
	// incident names the spec.incidents entry that caused the stop.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Incident string `json:"incident,omitempty"`
}

// IncidentType is the kind of a security incident (JS art. 12(1), YN art. 29).
// +kubebuilder:validation:Enum=DataLeak;UnauthorizedAccess;DataTampering;ServiceDisruption;PolicyViolation;Other
type IncidentType string

// The values of IncidentType.
const (
	IncidentDataLeak           IncidentType = "DataLeak"
	IncidentUnauthorizedAccess IncidentType = "UnauthorizedAccess"
	IncidentDataTampering      IncidentType = "DataTampering"
	IncidentServiceDisruption  IncidentType = "ServiceDisruption"
	IncidentPolicyViolation    IncidentType = "PolicyViolation"
	IncidentOther              IncidentType = "Other"
)

// Incident is a security incident in the domain, as recorded when it was detected and when it
// was reported to the authority (R7: respond at once and report; JS art. 12(1), 13(1), YC art.
// 21, YN art. 29). Entries are a record: added, and once reported, never changed or removed.
// +kubebuilder:validation:XValidation:rule="!has(self.reportedAt) || self.reportedAt >= self.detectedAt",message="reportedAt cannot be before detectedAt"
// +kubebuilder:validation:XValidation:rule="self.type == oldSelf.type && self.detectedAt == oldSelf.detectedAt && (!has(oldSelf.reportedAt) || self == oldSelf)",message="spec.incidents is a record: an incident's type and detection never change, and once reported nothing of it changes"
type Incident struct {
	// id names the incident within the domain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	ID string `json:"id"`
	// type is DataLeak, UnauthorizedAccess, DataTampering, ServiceDisruption, PolicyViolation or
	// Other.
	// +required
	Type IncidentType `json:"type"`
	// detectedAt is when the incident was detected.
	// +required
	DetectedAt metav1.Time `json:"detectedAt"`
	// reportedAt is when it was reported to the authority; until it is set, the domain's
	// IncidentUnreported condition is True.
	// +optional
	ReportedAt *metav1.Time `json:"reportedAt,omitempty"`
	// reporter is who reported it (a developer to the operator entity, the operator entity to
	// the authority).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Reporter string `json:"reporter,omitempty"`
	// note says what happened and what was done.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Note string `json:"note,omitempty"`
}

// OperationDomainSpec describes the isolated area where public data is operated (R1). Its
// policy values may only be stricter than its rulebook's, unless the rulebook is Custom.
// +kubebuilder:validation:XValidation:rule="self.rulebook in ['Yunnan', 'Custom'] || !has(self.agreementPolicy) || !has(self.agreementPolicy.maxOperatorTermYears) || self.agreementPolicy.maxOperatorTermYears <= 3",fieldPath=".agreementPolicy.maxOperatorTermYears",message="may only be stricter than the rulebook: at most 3 years (JS art. 8, YC art. 6, HLJ art. 14(2)); 5 only under Yunnan (YN art. 11(2)) or Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook == 'Custom' || !has(self.agreementPolicy) || !has(self.agreementPolicy.rectificationDays) || self.agreementPolicy.rectificationDays <= 30",fieldPath=".agreementPolicy.rectificationDays",message="may only be stricter than the rulebook: at most 30 days (YN art. 26) unless Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook == 'Custom' || !has(self.agreementPolicy) || !has(self.agreementPolicy.developerEvaluationMonths) || self.agreementPolicy.developerEvaluationMonths <= 6",fieldPath=".agreementPolicy.developerEvaluationMonths",message="may only be stricter than the rulebook: developers are evaluated at least every 6 months (YC plan 八(四)1) unless Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook == 'Custom' || !has(self.agreementPolicy) || !has(self.agreementPolicy.operatorEvaluationMonths) || self.agreementPolicy.operatorEvaluationMonths <= 12",fieldPath=".agreementPolicy.operatorEvaluationMonths",message="may only be stricter than the rulebook: the operator is evaluated at least yearly (YC art. 18, YC plan 八(四)3, NJ 14) unless Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook in ['Yunnan', 'Custom'] || !has(self.agreementPolicy) || !has(self.agreementPolicy.whenUnremedied) || self.agreementPolicy.whenUnremedied == 'Terminate'",fieldPath=".agreementPolicy.whenUnremedied",message="may only be stricter than the rulebook: an unremedied rectification terminates (JS art. 26, YC art. 22, HLJ art. 29-30); Reevaluate only under Yunnan (YN art. 26) or Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook != 'Nanjing' || !has(self.agreementPolicy) || !has(self.agreementPolicy.failedEvaluationsToEnd) || self.agreementPolicy.failedEvaluationsToEnd <= 2",fieldPath=".agreementPolicy.failedEvaluationsToEnd",message="may only be stricter than the rulebook: under Nanjing two failed evaluations in a row end an agreement (NJ 14)"
// +kubebuilder:validation:XValidation:rule="self.rulebook != 'Yunnan' || !has(self.agreementPolicy) || !has(self.agreementPolicy.undertakings) || self.agreementPolicy.undertakings == 'Required'",fieldPath=".agreementPolicy.undertakings",message="may only be stricter than the rulebook: under Yunnan every person signs a confidentiality undertaking (YN art. 25(1))"
// +kubebuilder:validation:XValidation:rule="self.rulebook != 'Yunnan' || !has(self.agreementPolicy) || !has(self.agreementPolicy.rawAssessments) || self.agreementPolicy.rawAssessments == 'Required'",fieldPath=".agreementPolicy.rawAssessments",message="may only be stricter than the rulebook: under Yunnan a developer works on raw data only after the operator's security assessment (YN art. 25(3))"
// +kubebuilder:validation:XValidation:rule="self.rulebook != 'Heilongjiang' || !has(self.logRetentionDays) || self.logRetentionDays >= 730",fieldPath=".logRetentionDays",message="may only be stricter than the rulebook: under Heilongjiang network logs are kept at least 730 days (HLJ art. 29)"
// +kubebuilder:validation:XValidation:rule="self.rulebook == 'Custom' || !has(self.recordRetentionDays) || self.recordRetentionDays >= (self.rulebook == 'Yunnan' ? 1825 : 1095)",fieldPath=".recordRetentionDays",message="may only be stricter than the rulebook: records of processing are kept at least 1825 days under Yunnan (YN art. 25(4)), 1095 elsewhere (PIPL art. 56) unless Custom"
// +kubebuilder:validation:XValidation:rule="self.rulebook == 'Custom' || !has(self.products) || !has(self.products.reviewStages) || (self.rulebook == 'Nanjing' ? (self.products.reviewStages.exists(s, s == 'Technical') && self.products.reviewStages.exists(s, s == 'Comprehensive') && self.products.reviewStages.indexOf('Technical') < self.products.reviewStages.indexOf('Comprehensive')) : self.products.reviewStages.exists(s, s == 'Operator'))",fieldPath=".products.reviewStages",message="may only be stricter than the rulebook: keep its stages in order, Operator (JS art. 18, YN art. 22, HLJ art. 20(3)) or, under Nanjing, Technical then Comprehensive (NJ 10)"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.incidents) || has(self.incidents)",fieldPath=".incidents",message="spec.incidents is a record: an incident is never removed"
// +kubebuilder:validation:XValidation:rule="!has(self.emergencyStop) || !has(self.emergencyStop.incident) || (has(self.incidents) && self.incidents.exists(i, i.id == self.emergencyStop.incident))",fieldPath=".emergencyStop.incident",message="names no incident in spec.incidents"
type OperationDomainSpec struct {
	// controlNamespace holds the domain's agreements, catalog, grants, workspaces and evidence.
	// It is created, or adopted if it exists. Developers get no rights in it.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="controlNamespace is immutable"
	// +required
	ControlNamespace string `json:"controlNamespace"`
	// dataZoneNamespace is where the domain's data services run. Created, or adopted if it exists.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="dataZoneNamespace is immutable"
	// +required
	DataZoneNamespace string `json:"dataZoneNamespace"`
	// authority is the data authority that grants the domain.
	// +required
	Authority Authority `json:"authority"`
	// rulebook is the region whose text the domain operates under: Jiangsu (the default: the
	// only text of the five in force, and the province of Yancheng and Nanjing), Yancheng,
	// Yunnan, Heilongjiang, Nanjing, or Custom. It sets every policy value left unset below.
	// +kubebuilder:default=Jiangsu
	// +optional
	Rulebook Rulebook `json:"rulebook,omitempty"`
	// agreementPolicy bounds the terms of every agreement in the domain.
	// +kubebuilder:default={}
	// +optional
	AgreementPolicy AgreementPolicy `json:"agreementPolicy,omitempty"`
	// logRetentionDays is how long the cluster must keep the domain's network logs: at least
	// 180 days everywhere (Cybersecurity Law art. 21, YC plan 九(一)3), 730 in Heilongjiang
	// (HLJ art. 29). opdomain collects no network logs itself; it states the obligation.
	// +kubebuilder:validation:Minimum=180
	// +optional
	LogRetentionDays int32 `json:"logRetentionDays,omitempty"`
	// recordRetentionDays is how long the domain's records of processing are kept, its
	// TeardownRecords included: 1825 days in Yunnan (YN art. 25(4)); 1095 elsewhere (PIPL art.
	// 56, where the regional text is silent).
	// +kubebuilder:validation:Minimum=180
	// +optional
	RecordRetentionDays int32 `json:"recordRetentionDays,omitempty"`
	// networkPolicy says which policy API enforces isolation: Kubernetes, Cilium or Both.
	// +kubebuilder:default=Kubernetes
	// +optional
	NetworkPolicy NetworkPolicyMode `json:"networkPolicy,omitempty"`
	// workspaceDefaults apply to workspaces that do not set their own values.
	// +kubebuilder:default={}
	// +optional
	WorkspaceDefaults WorkspaceDefaults `json:"workspaceDefaults,omitempty"`
	// negativeList names DataResources that may never be authorized (YN art. 15).
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	NegativeList []string `json:"negativeList,omitempty"`
	// blacklist bars parties from new agreements.
	// +kubebuilder:validation:MaxItems=1024
	// +listType=map
	// +listMapKey=creditCode
	// +optional
	Blacklist []BlacklistEntry `json:"blacklist,omitempty"`
	// emergencyStop cuts every data path and credential in the domain at once.
	// +kubebuilder:validation:XValidation:rule="!has(self.incident) || self.active",message="spec.emergencyStop.incident names the incident that caused an active stop"
	// +optional
	EmergencyStop EmergencyStop `json:"emergencyStop,omitempty"`
	// incidents are the domain's security incidents, oldest first: added and completed, never
	// rewritten or removed (R7).
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:XValidation:rule="oldSelf.all(o, self.exists(n, n.id == o.id))",message="spec.incidents is a record: an incident is never removed"
	// +listType=map
	// +listMapKey=id
	// +optional
	Incidents []Incident `json:"incidents,omitempty"`
	// images says which registries the domain's pods may run images from.
	// +optional
	Images ImagePolicy `json:"images,omitempty"`
	// dns says how the domain's pods resolve names.
	// +kubebuilder:default={}
	// +optional
	DNS DNSPolicy `json:"dns,omitempty"`
	// products says how the domain's data products are checked and reviewed before they leave.
	// +kubebuilder:default={}
	// +optional
	Products ProductPolicy `json:"products,omitempty"`
}

// ProductPolicy is how a domain's data products are checked and reviewed (R5).
type ProductPolicy struct {
	// reviewStages are the reviews every product passes, in order: Operator (the operator
	// entity's review, JS art. 18) or Nanjing's Technical then Comprehensive (NJ 10). A
	// CrossBorder review follows wherever a recipient is foreign or foreign-funded. Unset, the
	// rulebook's; a list of its own must keep the rulebook's stages in their order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.filter(t, t == s).size() == 1)",message="reviewStages may name each stage once"
	// +listType=atomic
	// +optional
	ReviewStages []ReviewStage `json:"reviewStages,omitempty"`
	// checks are the automatic checks' thresholds; the defaults are practice's (ACRO, OpenSAFELY).
	// +kubebuilder:default={}
	// +optional
	Checks ProductChecks `json:"checks,omitempty"`
	// maxArtifactSize is the largest artifact the airlock seals, and the size of the claims the
	// operator keeps a sealed artifact on. The claim made while sealing counts against the
	// workspace's storage quota.
	// +kubebuilder:default="1Gi"
	// +optional
	MaxArtifactSize *resource.Quantity `json:"maxArtifactSize,omitempty"`
}

// ProductChecks are the thresholds of the automatic checks of tabular products.
type ProductChecks struct {
	// minCount is the smallest count a table may publish (ACRO: 10).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=10
	// +optional
	MinCount int32 `json:"minCount,omitempty"`
	// rounding is the base counts must be multiples of (OpenSAFELY: 5); 1 checks nothing.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=5
	// +optional
	Rounding int32 `json:"rounding,omitempty"`
	// k is the smallest number of rows sharing the quasi-identifiers' values.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:default=10
	// +optional
	K int32 `json:"k,omitempty"`
	// dominanceN and dominancePercent: in a group, the N largest contributions may not exceed
	// this percentage of its total (ACRO: 2 and 90).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=2
	// +optional
	DominanceN int32 `json:"dominanceN,omitempty"`
	// dominancePercent is that percentage (see dominanceN).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=90
	// +optional
	DominancePercent int32 `json:"dominancePercent,omitempty"`
	// rawRecordRows and rawRecordDistinctPercent: a column of a table this long with this
	// share of distinct values looks like record-level data, which a reviewer must look at.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=50
	// +optional
	RawRecordRows int32 `json:"rawRecordRows,omitempty"`
	// rawRecordDistinctPercent is that share of distinct values (see rawRecordRows).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=95
	// +optional
	RawRecordDistinctPercent int32 `json:"rawRecordDistinctPercent,omitempty"`
}

// OwnedNamespace is a namespace the domain manages.
type OwnedNamespace struct {
	// name is the namespace's name.
	// +required
	Name string `json:"name"`
	// adopted is true when the namespace existed before the domain; adopted namespaces are
	// released, not deleted, when the domain goes.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
}

// ChainLink names one record of the evidence chain.
type ChainLink struct {
	// sequence is the record's sequence number.
	// +optional
	Sequence int64 `json:"sequence,omitempty"`
	// digest is the record's digest.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// EvidenceStatus is the state of a domain's chain of TeardownRecords.
type EvidenceStatus struct {
	// head is the newest record: a record removed from the end of the chain shows against it.
	// +optional
	Head ChainLink `json:"head,omitempty"`
	// pruned is the newest record removed because its retention ran out; the oldest record
	// kept must follow it.
	// +optional
	Pruned ChainLink `json:"pruned,omitempty"`
	// nextExpiry is when the oldest record's retention runs out.
	// +optional
	NextExpiry *metav1.Time `json:"nextExpiry,omitempty"`
	// disclosedThrough is the last year whose disclosure is settled (R7): the year whose end the
	// newest snapshot in the chain records, or, until the domain's first year ends, the year
	// before it was created.
	// +optional
	DisclosedThrough int32 `json:"disclosedThrough,omitempty"`
}

// OperationDomainStatus is what the operator observed of a domain.
type OperationDomainStatus struct {
	// conditions are Ready, Reconciling, Stalled, NetworkIsolated, DNSContained, AdmissionEnforced,
	// EmergencyStop, IncidentUnreported, DeletionBlocked.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// namespaces is the inventory of namespaces the domain manages.
	// +listType=map
	// +listMapKey=name
	// +optional
	Namespaces []OwnedNamespace `json:"namespaces,omitempty"`
	// policy is the policy in force: the rulebook's values tightened by the domain's own, each
	// with the article it comes from.
	// +optional
	Policy EffectivePolicy `json:"policy,omitempty"`
	// blacklist is every party barred from new agreements: spec.blacklist and, where
	// agreementPolicy.bars is Automatic, parties whose agreement ended with Breach,
	// SecurityIncident or LawViolation.
	// +listType=map
	// +listMapKey=creditCode
	// +optional
	Blacklist []BlacklistEntry `json:"blacklist,omitempty"`
	// proposedBars are the parties whose agreement ended with Breach, SecurityIncident or
	// LawViolation where agreementPolicy.bars is Propose: not barred until the authority adds
	// them to spec.blacklist (YN art. 21: restricting future participation is decided case by
	// case).
	// +listType=map
	// +listMapKey=creditCode
	// +optional
	ProposedBars []BlacklistEntry `json:"proposedBars,omitempty"`
	// evidence tracks the chain of TeardownRecords and their retention (R6).
	// +optional
	Evidence EvidenceStatus `json:"evidence,omitempty"`
	// records anchors the domain's operation records (R8): the newest record when last anchored,
	// so that records rewritten or cut off before it show, and the point retention pruned to.
	// +optional
	Records RecordsStatus `json:"records,omitempty"`
	// emergencyStopSince is when the current emergency stop took effect.
	// +optional
	EmergencyStopSince *metav1.Time `json:"emergencyStopSince,omitempty"`
	// dns is the resolver the domain's pods use, as the operator found it.
	// +optional
	DNS DNSStatus `json:"dns,omitempty"`
}

// EffectivePolicy is a domain's policy in force and where each value comes from.
type EffectivePolicy struct {
	// rulebook is the region whose text sets the defaults.
	// +optional
	Rulebook Rulebook `json:"rulebook,omitempty"`
	// values are the settings in force.
	// +listType=map
	// +listMapKey=name
	// +optional
	Values []PolicyValue `json:"values,omitempty"`
}

// PolicyValue is one setting in force.
type PolicyValue struct {
	// name is the setting's path under spec, such as agreementPolicy.maxOperatorTermYears.
	// +required
	Name string `json:"name"`
	// value is the setting's value.
	// +required
	Value string `json:"value"`
	// source is the article the value comes from, or whose choice it is where the text is
	// silent or the domain is stricter.
	// +required
	Source string `json:"source"`
}

// RecordsStatus is the anchor of a domain's operation records.
type RecordsStatus struct {
	// head is the newest record when the records were last anchored.
	// +optional
	Head ChainLink `json:"head,omitempty"`
	// anchoredAt is when they were.
	// +optional
	AnchoredAt *metav1.Time `json:"anchoredAt,omitempty"`
	// pruned is the newest record removed because its retention ran out (recordRetentionDays);
	// the oldest record kept must follow it.
	// +optional
	Pruned ChainLink `json:"pruned,omitempty"`
}

// DNSStatus is the resolver the domain's pods use.
type DNSStatus struct {
	// contained says whether no DNS query for a name outside the cluster can leave the domain
	// (condition DNSContained says why). Raw grants stay closed while it is false.
	// +optional
	Contained bool `json:"contained,omitempty"`
	// resolverIP is the cluster IP of spec.dns.resolver, which the domain's pods are set to ask.
	// +optional
	ResolverIP string `json:"resolverIP,omitempty"`
}

// OperationDomain is the one isolated area where public data is operated (R1).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=od,categories=opdomain
// +kubebuilder:validation:XValidation:rule="self.spec.controlNamespace != self.spec.dataZoneNamespace",message="spec.dataZoneNamespace must differ from spec.controlNamespace"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Rulebook",type=string,JSONPath=`.spec.rulebook`
// +kubebuilder:printcolumn:name="Control",type=string,JSONPath=`.spec.controlNamespace`
// +kubebuilder:printcolumn:name="Data zone",type=string,JSONPath=`.spec.dataZoneNamespace`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.networkPolicy`
// +kubebuilder:printcolumn:name="Stop",type=boolean,JSONPath=`.spec.emergencyStop.active`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OperationDomain struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the isolated area where public data is operated (R1). Its
	// policy values may only be stricter than its rulebook's, unless the rulebook is Custom.
	// +required
	Spec OperationDomainSpec `json:"spec"`
	// status is what the operator observed of a domain.
	// +optional
	Status OperationDomainStatus `json:"status,omitempty"`
}

// OperationDomainList is a list of OperationDomains.
// +kubebuilder:object:root=true
type OperationDomainList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OperationDomain `json:"items"`
}

func init() {
	register(&OperationDomain{}, &OperationDomainList{})
}
