// Package rbac builds the least-privilege Role of workspace members and their bindings (R3).
package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// MemberRole is the name of the Role every workspace member is bound to.
const MemberRole = "opdomain-member"

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// Visibility is how much of what its workloads produce a workspace's members may see.
type Visibility int

const (
	// Sealed: nothing a workload wrote. Members create and stop workloads and read the
	// operator's WorkloadSummaries; no pods, pod status, Events, logs, or workload objects,
	// since every response about them, including those of update, patch and delete, could
	// carry status a workload wrote. The zero value, so that a Visibility left unset seals.
	Sealed Visibility = iota
	// Status: pod status and Events, no logs.
	Status
	// Logs: pod status, Events and pod logs (only while the workspace works on samples).
	Logs
)

// openRules let members of an unsealed workspace run workloads and nothing that carries data
// out of the domain or weakens its isolation. Resources are listed one by one, never by
// wildcard, so that no subresource is granted by accident: no pods/exec, pods/attach,
// pods/portforward, pods/proxy, services/proxy, pods/ephemeralcontainers, and pods/log only
// with Logs (a member's kubectl sits outside the domain, so a log is an export channel). No
// Secrets, no network policies, no RBAC.
var openRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "configmaps", "persistentvolumeclaims", "services"}, Verbs: allVerbs},
	{APIGroups: []string{""}, Resources: []string{"pods/status", "events", "resourcequotas", "limitranges"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: allVerbs},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: allVerbs},
}

// sealedRules keep, of openRules, what returns nothing a workload wrote. Workloads may be
// created (the response is the object as stored, with empty status) and deleted (the domain's
// admission policy admits a delete there only with propagationPolicy Background and no
// finalizers, so the response is a Status naming the object, never the object); a Scale
// carries counts only. Bare pods are left out: a member could not stop one.
var sealedRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "persistentvolumeclaims", "services"}, Verbs: allVerbs},
	{APIGroups: []string{""}, Resources: []string{"resourcequotas", "limitranges"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets"}, Verbs: []string{"create", "delete"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"create", "delete"}},
	{APIGroups: []string{opv1.GroupVersion.Group}, Resources: []string{"workloadsummaries"}, Verbs: []string{"get", "list", "watch"}},
}

// Role returns the member Role for a workspace namespace at the given visibility.
func Role(namespace string, labels map[string]string, v Visibility) *rbacv1.Role {
	var rules []rbacv1.PolicyRule
	switch v {
	case Status:
		rules = slices.Clone(openRules)
	case Logs:
		rules = append(slices.Clone(openRules), rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}})
	default:
		rules = slices.Clone(sealedRules)
	}
	return &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: MemberRole, Namespace: namespace, Labels: labels},
		Rules:      rules,
	}
}

// Member is one workspace member: the person's own cluster identity and the service account
// of the credential opdomain issues to them.
type Member struct {
	User                    string
	ServiceAccountNamespace string
	ServiceAccountName      string
}

// RoleBinding binds one member, as both identities, to the member Role. One binding per member
// so that one person's access is cut without touching the others'.
func RoleBinding(namespace, name string, m Member, labels map[string]string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: MemberRole},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: m.User},
			{Kind: rbacv1.ServiceAccountKind, Namespace: m.ServiceAccountNamespace, Name: m.ServiceAccountName},
		},
	}
}
