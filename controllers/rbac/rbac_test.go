package rbac

import (
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestR3_MemberRoleGrantsNoExportOrEscapeChannel checks the rules themselves: no wildcard, no
// subresource that reads data out or reaches into a pod, nothing that weakens isolation.
func TestR3_MemberRoleGrantsNoExportOrEscapeChannel(t *testing.T) {
	g := NewWithT(t)
	forbidden := map[string]bool{
		"pods/exec": true, "pods/attach": true, "pods/portforward": true, "pods/proxy": true,
		"services/proxy": true, "pods/ephemeralcontainers": true, "pods/log": true, "secrets": true,
		"networkpolicies": true, "ciliumnetworkpolicies": true, "roles": true, "rolebindings": true,
		"serviceaccounts/token": true, "nodes/proxy": true,
	}
	for _, logs := range []bool{false, true} {
		delete(forbidden, "pods/log")
		if !logs {
			forbidden["pods/log"] = true
		}
		for _, rule := range Role("ws", nil, logs).Rules {
			g.Expect(rule.Verbs).NotTo(ContainElement(rbacv1.VerbAll))
			g.Expect(rule.APIGroups).NotTo(ContainElement(rbacv1.APIGroupAll))
			for _, res := range rule.Resources {
				g.Expect(res).NotTo(ContainSubstring("*"))
				g.Expect(forbidden[res]).To(BeFalse(), res)
			}
			g.Expect(rule.APIGroups).NotTo(ContainElement("rbac.authorization.k8s.io"))
			g.Expect(rule.APIGroups).NotTo(ContainElement("networking.k8s.io"))
		}
	}
	g.Expect(Role("ws", nil, true).Rules).To(ContainElement(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}}),
		"with logs, exactly get on pods/log is added")
}

func TestR3_EachMemberIsBoundAsPersonAndAsCredential(t *testing.T) {
	g := NewWithT(t)
	b := RoleBinding("ws", "b", Member{User: "lisi@acme.example", ServiceAccountNamespace: "ctl", ServiceAccountName: "sa"}, nil)
	g.Expect(b.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: MemberRole}))
	g.Expect(b.Subjects).To(ConsistOf(
		rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "lisi@acme.example"},
		rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "ctl", Name: "sa"},
	))
}
