// Package rbac builds the least-privilege Role of workspace members and their bindings (R3).
package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MemberRole is the name of the Role every workspace member is bound to.
const MemberRole = "opdomain-member"

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// memberRules lets members run workloads and nothing that carries data out of the domain or
// weakens its isolation. Resources are listed one by one, never by wildcard, so that no
// subresource is granted by accident: no pods/exec, pods/attach, pods/portforward, pods/proxy,
// services/proxy, pods/ephemeralcontainers, and pods/log only on the terms of Role's logs (a
// member's kubectl sits outside the domain, so a log is an export channel). No Secrets, no
// network policies, no RBAC.
var memberRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "configmaps", "persistentvolumeclaims", "services"}, Verbs: allVerbs},
	{APIGroups: []string{""}, Resources: []string{"pods/status", "events", "resourcequotas", "limitranges"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: allVerbs},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: allVerbs},
}

// Role returns the member Role for a workspace namespace; with logs, members may also read
// pod logs, which is allowed only while the workspace works on samples (rules.LogsReadable).
func Role(namespace string, labels map[string]string, logs bool) *rbacv1.Role {
	rules := slices.Clone(memberRules)
	if logs {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}})
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
