package rbac

import (
	"strings"
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
	for _, v := range []Visibility{Sealed, Status, Logs} {
		delete(forbidden, "pods/log")
		if v != Logs {
			forbidden["pods/log"] = true
		}
		for _, rule := range Rules(v) {
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
	g.Expect(Rules(Logs)).To(ContainElement(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}}),
		"with logs, exactly get on pods/log is added")
}

// TestR1_SealedRoleReturnsNothingAWorkloadWrote checks that in a sealed workspace no verb that
// answers with a workload, a pod or an Event is granted: only create and delete on workloads
// (whose responses the admission policy keeps free of status) and reads of the summaries.
func TestR1_SealedRoleReturnsNothingAWorkloadWrote(t *testing.T) {
	g := NewWithT(t)
	var zero Visibility
	g.Expect(zero).To(Equal(Sealed), "an unset visibility seals")
	carriesStatus := map[string]bool{"pods": true, "pods/status": true, "pods/log": true, "events": true, "replicasets": true,
		"deployments": true, "statefulsets": true, "jobs": true, "cronjobs": true, "jobs/status": true, "deployments/status": true}
	for _, rule := range Rules(Sealed) {
		for _, res := range rule.Resources {
			if !carriesStatus[res] {
				continue
			}
			g.Expect(rule.Verbs).To(ConsistOf("create", "delete"), "%s: only create and delete", res)
			g.Expect(res).NotTo(BeElementOf("pods", "pods/status", "pods/log", "events", "replicasets"))
		}
	}
	g.Expect(Rules(Sealed)).To(ContainElement(rbacv1.PolicyRule{APIGroups: []string{"opdomain.io"}, Resources: []string{"workloadsummaries"}, Verbs: []string{"get", "list", "watch"}}))
}

func TestR3_EachMemberIsBoundAsPersonAndAsCredential(t *testing.T) {
	g := NewWithT(t)
	b := RoleBinding("ws", "b", Member{User: "lisi@acme.example", ServiceAccountNamespace: "ctl", ServiceAccountName: "sa"}, nil, "gate")
	g.Expect(b.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "gate"}))
	g.Expect(b.Subjects).To(ConsistOf(
		rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "lisi@acme.example"},
		rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "ctl", Name: "sa"},
	))
}

// R2, R7: a closed gate grants nothing; an open one exactly its visibility's rules. Gate names
// differ by visibility and agreement, and fit a ClusterRole name.
func TestR2_GateGrantsItsRulesOnlyWhileOpen(t *testing.T) {
	g := NewWithT(t)
	for _, v := range Visibilities {
		g.Expect(Gate("x", nil, v, false).Rules).To(BeEmpty())
		g.Expect(Gate("x", nil, v, true).Rules).To(Equal(Rules(v)))
	}
	long := strings.Repeat("a", 253)
	seen := map[string]bool{}
	for _, agreement := range []string{"acme", "acme-2", long, long + "b"} {
		for _, v := range Visibilities {
			name := GateName("jiangsu", agreement, v)
			g.Expect(len(name)).To(BeNumerically("<=", 253))
			g.Expect(seen).NotTo(HaveKey(name))
			seen[name] = true
		}
	}
}
