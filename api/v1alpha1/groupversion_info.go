// Package v1alpha1 holds the opdomain.io/v1alpha1 API: the operation domain, the agreements
// inside it, the data catalog and grants, developer workspaces, data products and the teardown
// evidence they leave.
// +kubebuilder:object:generate=true
// +groupName=opdomain.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of every opdomain kind.
var GroupVersion = schema.GroupVersion{Group: "opdomain.io", Version: "v1alpha1"}

// kinds collects each kind and its list as the type files register them.
var kinds []runtime.Object

func register(objs ...runtime.Object) { kinds = append(kinds, objs...) }

// AddToScheme adds the opdomain kinds to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, kinds...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
