package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProductType is what kind of data product leaves the domain.
// +kubebuilder:validation:Enum=Dataset;API;Model;Report
type ProductType string

// The values of ProductType.
const (
	// ProductDataset is a CSV table with a header row; the statistical checks apply to it.
	ProductDataset ProductType = "Dataset"
	ProductAPI     ProductType = "API"
	ProductModel   ProductType = "Model"
	ProductReport  ProductType = "Report"
)

// CheckResult is the outcome of one review point.
// +kubebuilder:validation:Enum=Pass;Fail
type CheckResult string

// The values of CheckResult.
const (
	CheckPass CheckResult = "Pass"
	CheckFail CheckResult = "Fail"
)

// ReviewPoint is one point every product review covers: the six of JS art. 18 (YC plan 五(四),
// YN art. 22) and that no model or algorithm restores the raw data (HLJ art. 22).
// +kubebuilder:validation:Enum=PurposeAndScope;LawfulSources;NoRawOrSensitiveData;NoPersonalInfoOrTradeSecret;NoCrossBorderTransfer;NoOtherRisk;NotReversible
type ReviewPoint string

// The values of ReviewPoint.
const (
	PointPurposeAndScope             ReviewPoint = "PurposeAndScope"
	PointLawfulSources               ReviewPoint = "LawfulSources"
	PointNoRawOrSensitiveData        ReviewPoint = "NoRawOrSensitiveData"
	PointNoPersonalInfoOrTradeSecret ReviewPoint = "NoPersonalInfoOrTradeSecret"
	PointNoCrossBorderTransfer       ReviewPoint = "NoCrossBorderTransfer"
	PointNoOtherRisk                 ReviewPoint = "NoOtherRisk"
	PointNotReversible               ReviewPoint = "NotReversible"
)

// ReviewPoints are the points every product review answers, in order.
var ReviewPoints = []ReviewPoint{PointPurposeAndScope, PointLawfulSources, PointNoRawOrSensitiveData,
	PointNoPersonalInfoOrTradeSecret, PointNoCrossBorderTransfer, PointNoOtherRisk, PointNotReversible}

// PointFinding is a reviewer's answer on one point.
type PointFinding struct {
	// point is the review point.
	// +required
	Point ReviewPoint `json:"point"`
	// result is Pass or Fail.
	// +required
	Result CheckResult `json:"result"`
	// comment says why.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Comment string `json:"comment,omitempty"`
}

// ReviewStage is one review a product passes: Operator (the operator entity's one review, JS art.
// 18), or Nanjing's Technical then Comprehensive review, and CrossBorder where a foreign or
// foreign-funded party takes part (NJ 10).
// +kubebuilder:validation:Enum=Operator;Technical;Comprehensive;CrossBorder
type ReviewStage string

// The values of ReviewStage.
const (
	StageOperator      ReviewStage = "Operator"
	StageTechnical     ReviewStage = "Technical"
	StageComprehensive ReviewStage = "Comprehensive"
	StageCrossBorder   ReviewStage = "CrossBorder"
)

// ProductDecision is a reviewer's decision on a product.
// +kubebuilder:validation:Enum=Approved;ChangesRequested;Rejected
type ProductDecision string

// The values of ProductDecision.
const (
	DecisionApproved         ProductDecision = "Approved"
	DecisionChangesRequested ProductDecision = "ChangesRequested"
	DecisionRejected         ProductDecision = "Rejected"
)

// ProductReview is one stage's review of one sealed revision, given by the reviewer signed in as
// themselves.
type ProductReview struct {
	// stage is the review stage.
	// +required
	Stage ReviewStage `json:"stage"`
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
	// points answer every review point, once each.
	// +kubebuilder:validation:MaxItems=7
	// +listType=map
	// +listMapKey=point
	// +required
	Points []PointFinding `json:"points"`
	// time is when the decision was taken.
	// +required
	Time metav1.Time `json:"time"`
	// comment is the reviewer's reasoning.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Comment string `json:"comment,omitempty"`
}

// MissingPoints are the review points the review does not answer.
func (r ProductReview) MissingPoints() []ReviewPoint {
	var missing []ReviewPoint
	for _, point := range ReviewPoints {
		if !slices.ContainsFunc(r.Points, func(f PointFinding) bool { return f.Point == point }) {
			missing = append(missing, point)
		}
	}
	return missing
}

// PassesEveryPoint says whether no point the review answers failed.
func (r ProductReview) PassesEveryPoint() bool {
	return !slices.ContainsFunc(r.Points, func(f PointFinding) bool { return f.Result != CheckPass })
}

// ProductArtifact is where the product sits in the workspace before it leaves.
type ProductArtifact struct {
	// persistentVolumeClaim is the claim in the workspace namespace that holds the artifact.
	// +kubebuilder:validation:MaxLength=253
	// +required
	PersistentVolumeClaim string `json:"persistentVolumeClaim"`
	// path is the artifact's path inside the claim: one regular file.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(s, s == '..')",message="artifact.path may not contain '..'"
	// +required
	Path string `json:"path"`
}

// TableDeclaration says what the columns of a tabular (CSV) dataset are, for its checks.
type TableDeclaration struct {
	// counts are columns of counts, beside those named like counts (count, n, 人数…).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Counts []string `json:"counts,omitempty"`
	// quasiIdentifiers are columns that together may single a person out (age, district…).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	QuasiIdentifiers []string `json:"quasiIdentifiers,omitempty"`
	// magnitude is a column of contributions (turnover, income), for the dominance rule.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Magnitude string `json:"magnitude,omitempty"`
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

// Delisting is a reviewer's decision to take a published product down.
type Delisting struct {
	// reviewer is the cluster identity of the person who decided: the caller who wrote it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Reviewer string `json:"reviewer"`
	// reason says why.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Reason string `json:"reason"`
}

// DataProductSpec is a product asking to leave the domain (R5).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.revision) || self.revision >= oldSelf.revision",message="spec.revision may only grow"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.withdrawn) || !oldSelf.withdrawn || self.withdrawn",message="spec.withdrawn cannot be undone"
type DataProductSpec struct {
	// authorization names the agreement the product was made under.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.authorization is immutable"
	// +required
	Authorization string `json:"authorization"`
	// workspace names the DeveloperWorkspace where the product was made.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.workspace is immutable"
	// +required
	Workspace string `json:"workspace"`
	// submittedBy is the cluster identity of the person who submitted the product; they may not
	// review it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.submittedBy is immutable"
	// +required
	SubmittedBy string `json:"submittedBy"`
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
	// revision counts submissions: raise it to submit the artifact again (after a return). The
	// operator seals it anew, and reviews of the earlier digest no longer count.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// table declares a CSV dataset's columns for its checks.
	// +optional
	Table *TableDeclaration `json:"table,omitempty"`
	// recipients are who will receive the product.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Recipients []Recipient `json:"recipients,omitempty"`
	// reviews are the reviewers' decisions, one per stage and sealed digest.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Reviews []ProductReview `json:"reviews,omitempty"`
	// withdrawn takes the product out of the airlock for good; the submitter sets it.
	// +optional
	Withdrawn bool `json:"withdrawn,omitempty"`
	// delist takes a published product down.
	// +optional
	Delist *Delisting `json:"delist,omitempty"`
}

// ProductPhase is where a product stands.
// +kubebuilder:validation:Enum=Sealing;Checking;InReview;Approved;Published;Returned;Rejected;Withdrawn;Failed;Delisted
type ProductPhase string

const (
	// ProductSealing means the operator is freezing the artifact and computing its digest.
	ProductSealing ProductPhase = "Sealing"
	// ProductChecking means the automatic checks run on the sealed copy.
	ProductChecking ProductPhase = "Checking"
	// ProductInReview means a review stage has not approved the sealed digest yet.
	ProductInReview ProductPhase = "InReview"
	// ProductApproved means every stage approved; the operator is publishing it.
	ProductApproved ProductPhase = "Approved"
	// ProductPublished means the approved bytes are in the outbox, their digest verified.
	ProductPublished ProductPhase = "Published"
	// ProductReturned means a check failed or a reviewer asked for changes; raise spec.revision.
	ProductReturned ProductPhase = "Returned"
	// ProductRejected means a reviewer rejected it, for good.
	ProductRejected ProductPhase = "Rejected"
	// ProductWithdrawn means its submitter withdrew it, or its agreement ended before publication.
	ProductWithdrawn ProductPhase = "Withdrawn"
	// ProductFailed means sealing this revision failed (no file, a symlink, too large…).
	ProductFailed ProductPhase = "Failed"
	// ProductDelisted means it was published and taken down; its copies are destroyed.
	ProductDelisted ProductPhase = "Delisted"
)

// SealedArtifact is the artifact as the operator froze it.
type SealedArtifact struct {
	// revision is the spec.revision sealed.
	Revision int64 `json:"revision"`
	// sha256 is the digest the operator computed.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	SHA256 string `json:"sha256"`
	// size is the artifact's size in bytes.
	Size int64 `json:"size"`
	// at is when it was sealed.
	At metav1.Time `json:"at"`
}

// CheckFinding is one automatic check that did not pass. It names columns and rows, never a
// value.
type CheckFinding struct {
	// check is the check's name (Identifiers, SmallCount, KAnonymity…).
	Check string `json:"check"`
	// outcome is Fail (returned) or Review (a person must look).
	Outcome string `json:"outcome"`
	// column is the column concerned, for tables.
	// +optional
	Column string `json:"column,omitempty"`
	// rows are the first rows concerned (1 is the first under the header).
	// +optional
	// +listType=atomic
	Rows []int32 `json:"rows,omitempty"`
	// message says what was found.
	Message string `json:"message"`
}

// CheckReport is what the automatic checks found in the sealed artifact.
type CheckReport struct {
	// sha256 is the sealed digest checked.
	SHA256 string `json:"sha256"`
	// outcome is Pass, Review (a person must look at the findings) or Fail (returned).
	// +kubebuilder:validation:Enum=Pass;Review;Fail
	Outcome string `json:"outcome"`
	// reportSHA256 is the digest of the report as evidence keeps it.
	// +optional
	ReportSHA256 string `json:"reportSHA256,omitempty"`
	// findings are the checks that did not pass.
	// +optional
	// +listType=atomic
	Findings []CheckFinding `json:"findings,omitempty"`
	// at is when the checks ran.
	At metav1.Time `json:"at"`
}

// PublishedCopy is where the approved bytes left from.
type PublishedCopy struct {
	// location is the outbox namespace, claim and path of the copy.
	Location string `json:"location"`
	// sha256 is the copy's digest, verified equal to the sealed one.
	SHA256 string `json:"sha256"`
	// at is when it was published.
	At metav1.Time `json:"at"`
	// record is the TeardownRecord of the domain's evidence chain that records the publication.
	// +optional
	Record string `json:"record,omitempty"`
}

// ProductEnd is a product's tombstone: what ended it, when, and why.
type ProductEnd struct {
	// at is when it ended.
	At metav1.Time `json:"at"`
	// reason is a CamelCase reason (Rejected, Withdrawn, AgreementEnded, GrantRevoked, Delisted).
	Reason string `json:"reason"`
	// message says more.
	// +optional
	Message string `json:"message,omitempty"`
	// record is the TeardownRecord of the domain's evidence chain that records the end, once
	// every copy is destroyed.
	// +optional
	Record string `json:"record,omitempty"`
}

// ArtifactCustody is the volume the operator keeps one revision's bytes on. There is one copy:
// the volume itself moves, from the workspace (where the seal pod wrote it) to the airlock
// (where it is verified, checked and reviewed) to the outbox (where it is published from), and
// is destroyed with its bytes when the product ends or a new revision replaces it.
type ArtifactCustody struct {
	// revision is the spec.revision the volume holds.
	Revision int64 `json:"revision"`
	// volume is the PersistentVolume, once provisioned.
	// +optional
	Volume string `json:"volume,omitempty"`
	// volumeUID is its UID, which the evidence names.
	// +optional
	VolumeUID string `json:"volumeUID,omitempty"`
	// copied is what the seal pod reported as it copied the artifact out of the workspace's
	// claim; the airlock recomputes it where no member reaches, and the two must agree.
	// +optional
	Copied *SealedArtifact `json:"copied,omitempty"`
	// failure says why this revision could not be sealed.
	// +optional
	Failure string `json:"failure,omitempty"`
	// destroyed is set once the volume and its bytes are gone.
	// +optional
	Destroyed bool `json:"destroyed,omitempty"`
}

// ArtifactStatus is what a DataProduct or a DataImport records of its artifact's passage
// through the airlock.
type ArtifactStatus struct {
	// sealed is the artifact as the operator froze it.
	// +optional
	Sealed *SealedArtifact `json:"sealed,omitempty"`
	// custody is the volume the current revision's bytes are kept on.
	// +optional
	Custody *ArtifactCustody `json:"custody,omitempty"`
	// checks is the automatic checks' report on the sealed digest.
	// +optional
	Checks *CheckReport `json:"checks,omitempty"`
	// ended is set once it ended for good (rejected, withdrawn, delisted or removed): its
	// tombstone.
	// +optional
	Ended *ProductEnd `json:"ended,omitempty"`
}

// DataProductStatus says where the product is.
type DataProductStatus struct {
	// conditions are Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is where the product stands.
	// +optional
	Phase          ProductPhase `json:"phase,omitempty"`
	ArtifactStatus `json:",inline"`
	// stages are the review stages this product needs, in order.
	// +optional
	// +listType=atomic
	Stages []ReviewStage `json:"stages,omitempty"`
	// published is where the approved bytes were published.
	// +optional
	Published *PublishedCopy `json:"published,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataProduct is the export airlock: the only thing that leaves the domain, after review (R5).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dprod,categories=opdomain
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Rev",type=integer,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="SHA256",type=string,JSONPath=`.status.sealed.sha256`,priority=1
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Workspace",type=string,JSONPath=`.spec.workspace`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataProduct struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is a product asking to leave the domain (R5).
	// +required
	Spec DataProductSpec `json:"spec"`
	// status says where the product is.
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
