// Package tenancy builds the namespaces of a domain and the limits of a workspace namespace.
package tenancy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Names of the per-workspace limit objects.
const (
	QuotaName      = "opdomain-quota"
	LimitRangeName = "opdomain-limits"
)

// Namespace returns a domain namespace with the given labels.
func Namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// WorkspaceNamespace returns a workspace namespace: Pod Security Admission `restricted` in all
// three modes, so no privileged, host-bound or root workload runs where granted data lives.
func WorkspaceNamespace(name string, labels map[string]string) *corev1.Namespace {
	ns := Namespace(name, labels)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		ns.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
		ns.Labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return ns
}

// DefaultServiceAccount is a namespace's `default` ServiceAccount, which every pod runs as
// unless it names another, with no token mounted: a token in a pod would make the API server
// an exit the network policies do not see, and the domain's admission policy refuses it.
func DefaultServiceAccount(namespace string, labels map[string]string) *corev1.ServiceAccount {
	automount := false
	return &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: "default", Namespace: namespace, Labels: labels},
		AutomountServiceAccountToken: &automount,
	}
}

// EffectiveQuota takes each value from the workspace, or else from the domain default.
func EffectiveQuota(workspace, defaults opv1.WorkspaceQuota) opv1.WorkspaceQuota {
	pick := func(a, b *resource.Quantity) *resource.Quantity {
		if a != nil {
			return a
		}
		return b
	}
	return opv1.WorkspaceQuota{
		CPU:     pick(workspace.CPU, defaults.CPU),
		Memory:  pick(workspace.Memory, defaults.Memory),
		Storage: pick(workspace.Storage, defaults.Storage),
		Pods:    pick(workspace.Pods, defaults.Pods),
	}
}

// ResourceQuota renders a workspace quota. A stopped workspace (suspended agreement, emergency
// stop) gets a quota of zero pods, so that no workload controller can bring compute back while
// access is cut; Services that would open the namespace to the outside are always zero.
func ResourceQuota(namespace string, q opv1.WorkspaceQuota, stopped bool, labels map[string]string) *corev1.ResourceQuota {
	hard := corev1.ResourceList{
		corev1.ResourceServicesNodePorts:     resource.MustParse("0"),
		corev1.ResourceServicesLoadBalancers: resource.MustParse("0"),
	}
	set := func(name corev1.ResourceName, v *resource.Quantity) {
		if v != nil {
			hard[name] = *v
		}
	}
	set(corev1.ResourceRequestsCPU, q.CPU)
	set(corev1.ResourceLimitsCPU, q.CPU)
	set(corev1.ResourceRequestsMemory, q.Memory)
	set(corev1.ResourceLimitsMemory, q.Memory)
	set(corev1.ResourceRequestsStorage, q.Storage)
	set(corev1.ResourcePods, q.Pods)
	if stopped {
		hard[corev1.ResourcePods] = resource.MustParse("0")
	}
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: namespace, Labels: labels},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
}

// LimitRange gives containers that set no resources the domain's defaults, so that pods can be
// admitted under the quota without every member writing requests by hand.
func LimitRange(namespace string, d opv1.ContainerDefaults, labels map[string]string) *corev1.LimitRange {
	values := corev1.ResourceList{}
	if d.CPU != nil {
		values[corev1.ResourceCPU] = *d.CPU
	}
	if d.Memory != nil {
		values[corev1.ResourceMemory] = *d.Memory
	}
	return &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: LimitRangeName, Namespace: namespace, Labels: labels},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        values,
			DefaultRequest: values,
		}}},
	}
}
