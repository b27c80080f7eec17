package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus, so `kubectl wait
// --for=condition=Ready`, Flux and Argo CD read every opdomain object the same way.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"

	// ConditionNetworkIsolated says the deny-by-default policies are in place.
	ConditionNetworkIsolated = "NetworkIsolated"
	// ConditionDNSContained says whether no DNS query for a name outside the cluster can leave
	// a domain's namespaces; Raw grants stay closed while it is False.
	ConditionDNSContained = "DNSContained"
	// ConditionAdmissionEnforced says the API server refuses, in a dry run, what a domain's
	// admission policy forbids: its binding is in force, not only stored.
	ConditionAdmissionEnforced = "AdmissionEnforced"
	// ConditionAccessGranted says members hold working credentials and RBAC right now.
	ConditionAccessGranted = "AccessGranted"
	// ConditionEmergencyStop is True on every object cut off by the domain's emergency stop (R7).
	ConditionEmergencyStop = "EmergencyStop"
	// ConditionIncidentUnreported is True on a domain while one of its incidents has not been
	// reported to the authority (R7).
	ConditionIncidentUnreported = "IncidentUnreported"
	// ConditionDeletionBlocked says why a domain being deleted is still there.
	ConditionDeletionBlocked = "DeletionBlocked"
	// ConditionTermValid is False when an agreement's term breaks the domain's agreement policy.
	ConditionTermValid = "TermValid"
	// ConditionEvaluationWarning is True while the latest evaluation of an agreement failed or
	// asks for a rectification that is due or whose re-evaluation is overdue, or while the next
	// periodic evaluation is overdue.
	ConditionEvaluationWarning = "EvaluationWarning"
	// ConditionSealed is True once a workspace holds or has held Raw data: members then see
	// nothing a workload wrote, only the operator's WorkloadSummaries. It never turns back.
	ConditionSealed = "Sealed"
	// ConditionLogsReadable is True while a workspace's members may read pod logs: only while
	// its data comes in Sample or Desensitized form (YC plan 五(三)2).
	ConditionLogsReadable = "LogsReadable"
)

// Condition reasons.
const (
	ReasonReconciled            = "Reconciled"
	ReasonProgressing           = "Progressing"
	ReasonDomainNotFound        = "DomainNotFound"
	ReasonAuthorizationNotFound = "AuthorizationNotFound"
	ReasonAuthorizationInactive = "AuthorizationInactive"
	ReasonMemberNotEligible     = "MemberNotEligible"
	ReasonEmergencyStop         = "EmergencyStopActive"
	ReasonAgreementsRemain      = "AgreementsRemain"
	ReasonTearingDown           = "TearingDown"
	ReasonTornDown              = "TornDown"
	ReasonNamespaceConflict     = "NamespaceConflict"
	ReasonTermExceedsPolicy     = "TermExceedsPolicy"
	ReasonParentNotFound        = "ParentNotFound"
	ReasonParentInactive        = "ParentInactive"
	ReasonApplyFailed           = "ApplyFailed"
	ReasonEvaluationFailed      = "EvaluationFailed"
	ReasonPartyBlacklisted      = "PartyBlacklisted"
	ReasonRoleConflict          = "RoleConflict"
	ReasonExceedsParent         = "ExceedsParent"
	ReasonEvaluationPassed      = "EvaluationPassed"
	ReasonRectificationDue      = "RectificationDue"
	ReasonReevaluationOverdue   = "ReevaluationOverdue"
	ReasonEvaluationOverdue     = "EvaluationOverdue"
	ReasonIncidentUnreported    = "IncidentUnreported"
	ReasonIncidentsReported     = "IncidentsReported"
	ReasonNegativeListed        = "NegativeListed"
	ReasonSourceNotFound        = "SourceNotFound"
	ReasonOutsideScope          = "OutsideScope"
	ReasonUnknownField          = "UnknownField"
	ReasonFormNotAllowed        = "FormNotAllowed"
	ReasonInvalidCreditCode     = "InvalidCreditCode"
	ReasonConsentMissing        = "ConsentMissing"
	ReasonAssessmentMissing     = "AssessmentMissing"
	ReasonWorkspaceMismatch     = "WorkspaceMismatch"
	ReasonReviewNotIndependent  = "ReviewNotIndependent"
	ReasonReviewerNotCaller     = "ReviewerNotCaller"
	ReasonCiliumDNSRules        = "CiliumDNSRules"
	ReasonInDomainResolver      = "InDomainResolver"
	ReasonResolverForwards      = "ResolverForwards"
	ReasonResolverNotFound      = "ResolverNotFound"
	ReasonDNSNotContained       = "DNSNotContained"
	ReasonAdmissionNotEnforced  = "AdmissionNotEnforced"
	ReasonAwaitingReview        = "AwaitingReview"
	ReasonReviewRejected        = "ReviewRejected"
	ReasonAgreementEnded        = "AgreementEnded"
	ReasonWorkspaceGone         = "WorkspaceGone"
	ReasonNotInTerm             = "NotInTerm"
	ReasonRawData               = "RawData"
	ReasonNoData                = "NoData"
	ReasonNoRawData             = "NoRawData"
	ReasonSampledData           = "SampledData"
)

// Labels and annotations every opdomain child carries.
const (
	LabelDomain    = "opdomain.io/domain"
	LabelOwnerKind = "opdomain.io/owner-kind"
	// OwnerKindWorkspace is LabelOwnerKind on what a DeveloperWorkspace owns, its namespace first.
	OwnerKindWorkspace = "DeveloperWorkspace"
	// OwnerKindProduct is LabelOwnerKind on what a DataProduct owns: its claims and airlock pods.
	OwnerKindProduct = "DataProduct"
	// OwnerKindImport is LabelOwnerKind on what a DataImport owns.
	OwnerKindImport     = "DataImport"
	LabelOwnerName      = "opdomain.io/owner-name"
	LabelOwnerNamespace = "opdomain.io/owner-namespace"
	LabelMember         = "opdomain.io/member"
	LabelComponent      = "opdomain.io/component"
	// LabelSealed marks a workspace namespace that holds or has held Raw data (ConditionSealed).
	// The operator adds it and never removes it; the domain's admission policy reads it.
	LabelSealed = "opdomain.io/sealed"
	// LabelSubjectUID marks a TeardownRecord with the UID of what it records, so a teardown
	// resumed after a restart finds its record instead of writing a second one.
	LabelSubjectUID = "opdomain.io/subject-uid"

	AnnotationMemberUser = "opdomain.io/member-user"
	AnnotationExpiresAt  = "opdomain.io/expires-at"

	// AnnotationCreatedBy marks a namespace a domain created, as opposed to one it adopted; the
	// mark lives on the namespace itself so it survives any restart.
	AnnotationCreatedBy = "opdomain.io/created-by"
	// AnnotationRenewAt is when a member credential's Secret is due for rotation.
	AnnotationRenewAt = "opdomain.io/renew-at"
	// LabelServiceAccount names the ServiceAccount a member credential's Secret belongs to.
	LabelServiceAccount = "opdomain.io/service-account"
	// AnnotationApplied is the digest of what the operator last applied to an object, so that an
	// unchanged object is not written again.
	AnnotationApplied = "opdomain.io/applied"

	// Finalizer is held by domains and workspaces until their teardown is complete.
	Finalizer = "opdomain.io/teardown"
	// FinalizerGrantPath holds a grant until its path is closed: the path's policies live in
	// other namespaces, where no owner reference can reach.
	FinalizerGrantPath = "opdomain.io/grant-path"
)
