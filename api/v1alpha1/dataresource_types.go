package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Field is one field of a data resource.
type Field struct {
	// name is the field's name as the data service exposes it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	Name string `json:"name"`
	// sensitive marks a field that identifies people or firms.
	// +optional
	Sensitive bool `json:"sensitive,omitempty"`
}

// ServiceSource is a Service in the domain's data zone that serves the resource.
type ServiceSource struct {
	// name is the Service's name in the data zone namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// port is the Service port that serves the resource.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`
}

// VolumeSnapshotSource is a VolumeSnapshot in the domain's data zone that holds the resource.
type VolumeSnapshotSource struct {
	// name is the VolumeSnapshot's name in the data zone namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// DataSource says where in the data zone a resource is served; exactly one is set.
// +kubebuilder:validation:XValidation:rule="has(self.service) != has(self.volumeSnapshot)",message="source must set exactly one of service or volumeSnapshot"
type DataSource struct {
	// service is a Service in the data zone.
	// +optional
	Service *ServiceSource `json:"service,omitempty"`
	// volumeSnapshot is a VolumeSnapshot in the data zone.
	// +optional
	VolumeSnapshot *VolumeSnapshotSource `json:"volumeSnapshot,omitempty"`
}

// DataResourceSpec is a catalog entry (授权运营数据资源目录, R4).
type DataResourceSpec struct {
	// provider is the public body that provides the data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Provider string `json:"provider"`
	// level is the classification level, 1 (lowest) to 4. Level 3 and above are never granted
	// in Raw form (NJ 7).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4
	// +required
	Level int32 `json:"level"`
	// personalInformation marks a resource holding personal information; grants need consent.
	// +optional
	PersonalInformation bool `json:"personalInformation,omitempty"`
	// tradeSecret marks a resource holding trade secrets; grants need consent.
	// +optional
	TradeSecret bool `json:"tradeSecret,omitempty"`
	// fields are the resource's fields; grants name a subset.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=512
	// +listType=map
	// +listMapKey=name
	// +required
	Fields []Field `json:"fields"`
	// source says where in the data zone the resource is served.
	// +required
	Source DataSource `json:"source"`
}

// DataResourceStatus says whether the resource can be granted.
type DataResourceStatus struct {
	// conditions are Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// offerable is true when the resource is off the negative list and its source exists.
	// +optional
	Offerable bool `json:"offerable,omitempty"`
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataResource is an entry in the domain's data catalog (R4).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dres,categories=opdomain
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Level",type=integer,JSONPath=`.spec.level`
// +kubebuilder:printcolumn:name="Offerable",type=boolean,JSONPath=`.status.offerable`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataResource struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is a catalog entry (授权运营数据资源目录, R4).
	// +required
	Spec DataResourceSpec `json:"spec"`
	// status says whether the resource can be granted.
	// +optional
	Status DataResourceStatus `json:"status,omitempty"`
}

// DataResourceList is a list of DataResources.
// +kubebuilder:object:root=true
type DataResourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataResource `json:"items"`
}

func init() {
	register(&DataResource{}, &DataResourceList{})
}
