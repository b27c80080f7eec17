// Package v1alpha1 holds the opdomain.io/v1alpha1 API: the operation domain, the agreements
// inside it, the data catalog and grants, developer workspaces, data products and the teardown
// evidence they leave.
// +kubebuilder:object:generate=true
// +groupName=opdomain.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every opdomain kind.
	GroupVersion = schema.GroupVersion{Group: "opdomain.io", Version: "v1alpha1"}

	// SchemeBuilder registers the opdomain kinds with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the opdomain kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
