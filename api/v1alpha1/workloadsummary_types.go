package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// WorkloadState is what a sealed workspace's members may know of how a workload is doing.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Suspended;Stopped;Scheduled
type WorkloadState string

// Workload states. They name a phase and never carry a message, a reason or an exit code,
// which a workload could choose to spell data with.
const (
	WorkloadPending   WorkloadState = "Pending"
	WorkloadRunning   WorkloadState = "Running"
	WorkloadSucceeded WorkloadState = "Succeeded"
	WorkloadFailed    WorkloadState = "Failed"
	WorkloadSuspended WorkloadState = "Suspended"
	WorkloadStopped   WorkloadState = "Stopped"
	WorkloadScheduled WorkloadState = "Scheduled"
)

// WorkloadRef names a workload in the summary's namespace.
type WorkloadRef struct {
	// kind is Job, CronJob, Deployment or StatefulSet.
	// +kubebuilder:validation:Enum=Job;CronJob;Deployment;StatefulSet
	// +required
	Kind string `json:"kind"`
	// name is the workload's name.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// uid is the workload's UID, so a summary of a deleted and re-created workload is not
	// mistaken for the new one.
	// +optional
	UID string `json:"uid,omitempty"`
}

// WorkloadObservation is the sanitized view of one workload: a state and counts, nothing a
// workload wrote.
type WorkloadObservation struct {
	// workload is the summarized workload.
	// +required
	Workload WorkloadRef `json:"workload"`
	// state is the workload's state.
	// +required
	State WorkloadState `json:"state"`
	// desired is the replicas or completions asked for.
	// +optional
	Desired *int32 `json:"desired,omitempty"`
	// ready counts ready replicas (Deployment, StatefulSet).
	// +optional
	Ready int32 `json:"ready,omitempty"`
	// active counts running pods (Job) or running Jobs (CronJob).
	// +optional
	Active int32 `json:"active,omitempty"`
	// succeeded counts pods that succeeded (Job).
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// failed counts pods that failed (Job).
	// +optional
	Failed int32 `json:"failed,omitempty"`
}

// WorkloadSummary is the operator's sanitized view of one workload in a sealed workspace
// (R1: data is usable, not visible). Members of a sealed workspace read these instead of their
// workloads, pods and Events, which carry what workloads wrote; only the operator writes them.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=wls,categories=opdomain
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.workload.kind`
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.workload.name`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.state`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.desired`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.ready`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.active`
// +kubebuilder:printcolumn:name="Succeeded",type=integer,JSONPath=`.succeeded`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.failed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkloadSummary struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// The observation sits at the top level, as an Event's fields do: the operator alone writes
	// it, whole, in one apply.
	WorkloadObservation `json:",inline"`
}

// WorkloadSummaryList is a list of WorkloadSummaries.
// +kubebuilder:object:root=true
type WorkloadSummaryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkloadSummary `json:"items"`
}

func init() {
	register(&WorkloadSummary{}, &WorkloadSummaryList{})
}
