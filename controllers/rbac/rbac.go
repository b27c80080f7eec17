// Package rbac builds the least-privilege Role of workspace members and their bindings (R3).
package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/names"
)

// MemberRole begins the names of member bindings and gates; it is also the name of the Role
// members were bound to before gates, which the operator removes.
const MemberRole = "opdomain-member"

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// Visibility is how much of what its workloads produce a workspace's members may see.
type Visibility int

const (
	// Sealed means nothing a workload wrote. Members create and stop workloads and read the
	// operator's WorkloadSummaries; no pods, pod status, Events, logs, or workload objects,
	// since every response about them, including those of update, patch and delete, could
	// carry status a workload wrote. The zero value, so that a Visibility left unset seals.
	Sealed Visibility = iota
	// Status means pod status and Events, no logs.
	Status
	// Logs means pod status, Events and pod logs (only while the workspace works on samples).
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

// String names a visibility in gate names.
func (v Visibility) String() string {
	switch v {
	case Status:
		return "status"
	case Logs:
		return "logs"
	case Sealed:
	}
	return "sealed" // and any value out of range: fail closed
}

// Visibilities lists every visibility; an agreement has one gate for each.
var Visibilities = []Visibility{Sealed, Status, Logs}

// Rules returns the member rules at visibility v.
func Rules(v Visibility) []rbacv1.PolicyRule {
	switch v {
	case Status:
		return slices.Clone(openRules)
	case Logs:
		return append(slices.Clone(openRules), rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}})
	case Sealed:
	}
	return slices.Clone(sealedRules) // and any value out of range: fail closed
}

// GateComponent is the opdomain.io/component label of every gate.
const GateComponent = "gate"

// GateName is the ClusterRole through which the members of one agreement of a domain hold the
// member rules at visibility v.
func GateName(domain, agreement string, v Visibility) string {
	return names.Slug(MemberRole+"-"+domain+"-"+agreement, 240) + "-" + v.String()
}

// Gate returns an agreement's gate at visibility v: the member rules while open, none while
// closed. Every member RoleBinding of every workspace under the agreement refers to one of its
// gates, and RBAC reads the rules on every request, so closing the gates cuts every member of
// the agreement at once with one write per visibility, whatever the number of workspaces.
func Gate(name string, labels map[string]string, v Visibility, open bool) *rbacv1.ClusterRole {
	gate := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	}
	if open {
		gate.Rules = Rules(v)
	}
	return gate
}

// Member is one workspace member: the person's own cluster identity and the service account
// of the credential opdomain issues to them.
type Member struct {
	User                    string
	ServiceAccountNamespace string
	ServiceAccountName      string
}

// RoleBinding binds one member, as both identities, to a gate of their agreement, within the
// workspace namespace only. One binding per member so that one person's access is cut without
// touching the others'.
func RoleBinding(namespace, name string, m Member, labels map[string]string, gate string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: gate},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: m.User},
			{Kind: rbacv1.ServiceAccountKind, Namespace: m.ServiceAccountNamespace, Name: m.ServiceAccountName},
		},
	}
}
