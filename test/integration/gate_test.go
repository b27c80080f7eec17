package integration

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/rbac"
)

// memberCan asks, for every workspace, whether its member may create Jobs there (a right of
// every visibility).
func memberCan(t testing.TB, users map[string]authenticationv1.UserInfo) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for ns, u := range users {
		out[ns] = can(t, u, ns, "create", "batch", "jobs", "")
	}
	return out
}

func allAre(want bool, namespaces map[string]authenticationv1.UserInfo) map[string]bool {
	out := map[string]bool{}
	for ns := range namespaces {
		out[ns] = want
	}
	return out
}

// R2, R7: an agreement's members hold their rights through its gates, so closing the three gates
// denies every member of every workspace under it, whatever the number of workspaces, while
// every RoleBinding is still in place; the operator puts an edited gate back, and restoring
// gives back exactly what was there. A suspension and the domain's emergency stop close them.
func TestR2_OneWriteCutsEveryMemberOfTheAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "gate", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	workspaces := []*opv1.DeveloperWorkspace{w.ws}
	for i := range 3 {
		workspaces = append(workspaces, addWorkspace(t, w, fmt.Sprintf("team%d", i)))
	}
	users := map[string]authenticationv1.UserInfo{}
	for _, ws := range workspaces {
		wsWorld := *w
		wsWorld.ws = ws
		token, _ := memberToken(t, &wsWorld)
		u := review(t, token)
		g.Expect(u).NotTo(BeNil())
		users[ws.Status.Namespace] = *u
	}
	g.Expect(memberCan(t, users)).To(Equal(allAre(true, users)))
	gates := make([]*rbacv1.ClusterRole, 0, len(rbac.Visibilities))
	for _, v := range rbac.Visibilities {
		var gate rbacv1.ClusterRole
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: rbac.GateName(w.domain.Name, w.developer.Name, v)}, &gate)).To(Succeed())
		g.Expect(gate.Rules).To(Equal(rbac.Rules(v)))
		gates = append(gates, &gate)
	}

	// With the operator stopped, so that only these writes act: three writes, every member out.
	stopManager()
	for _, gate := range gates {
		patch := client.MergeFrom(gate.DeepCopy())
		gate.Rules = nil
		g.Expect(k8s.Patch(ctx, gate, patch)).To(Succeed())
	}
	g.Expect(memberCan(t, users)).To(Equal(allAre(false, users)))
	var bindings rbacv1.RoleBindingList
	for ns := range users {
		g.Expect(k8s.List(ctx, &bindings, client.InNamespace(ns))).To(Succeed())
		g.Expect(bindings.Items).To(HaveLen(1), "the binding in %s is still there", ns)
	}

	// The operator comes back and puts the gates back: exactly what was there.
	g.Expect(startManager()).To(Succeed())
	g.Eventually(func() map[string]bool { return memberCan(t, users) }, timeout, poll).Should(Equal(allAre(true, users)))
	for _, gate := range gates {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gate), gate)).To(Succeed())
		g.Expect(gate.Rules).NotTo(BeEmpty())
	}

	// The agreement's suspension closes the gates; lifting it reopens them.
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(func() map[string]bool { return memberCan(t, users) }, time.Second, 5*time.Millisecond).Should(Equal(allAre(false, users)))
	setSuspension(t, w.developer, nil)
	for _, ws := range workspaces {
		g.Eventually(workspacePhase(ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))
	}

	// The parent's suspension cuts its children's members in one hop; so does the domain's stop.
	setSuspension(t, w.operator, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(func() []rbacv1.PolicyRule {
		var gate rbacv1.ClusterRole
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: rbac.GateName(w.domain.Name, w.developer.Name, rbac.Status)}, &gate)).To(Succeed())
		return gate.Rules
	}, time.Second, 5*time.Millisecond).Should(BeEmpty())
	setSuspension(t, w.operator, nil)
	for _, ws := range workspaces {
		g.Eventually(workspacePhase(ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))
	}
	setEmergencyStop(t, w.domain, true)
	g.Eventually(func() map[string]bool { return memberCan(t, users) }, time.Second, 5*time.Millisecond).Should(Equal(allAre(false, users)))
	setEmergencyStop(t, w.domain, false)
}

// R6: every ending leaves evidence, even a workspace deleted before the operator ever saw it:
// admission gives each workspace its teardown finalizer as it is created. (With the manager down
// its validating webhook refuses every workspace; a workspace goes unseen while the reconcilers
// lag behind a serving webhook: busy, or a leader restarting beside another replica.)
func TestR6_WorkspaceDeletedBeforeTheOperatorSawItLeavesItsRecord(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ghost", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	newWS := func(name string) *opv1.DeveloperWorkspace {
		return &opv1.DeveloperWorkspace{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()},
			Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
		}
	}
	// The API server loads a binding a moment after it is stored: wait until a dry run shows it.
	g.Eventually(func() []string {
		probe := newWS("probe")
		g.Expect(k8s.Create(ctx, probe, client.DryRunAll)).To(Succeed())
		return probe.Finalizers
	}, timeout, poll).Should(ConsistOf(opv1.Finalizer))

	// The create's answer is what admission made of the object, before any reconcile; deleted at
	// once, the workspace still waits for its teardown.
	ghost := newWS("ghost")
	g.Expect(k8s.Create(ctx, ghost)).To(Succeed())
	g.Expect(ghost.Finalizers).To(ConsistOf(opv1.Finalizer), "given by admission")
	g.Expect(k8s.Delete(ctx, ghost)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ghost), ghost)) }, timeout, poll).Should(BeTrue())
	var records opv1.TeardownRecordList
	g.Expect(k8s.List(ctx, &records, client.InNamespace(w.control()), client.MatchingLabels{opv1.LabelSubjectUID: string(ghost.UID)})).To(Succeed())
	g.Expect(records.Items).To(HaveLen(1), "exactly one record")
	g.Expect(records.Items[0].Spec.Subject.Name).To(Equal("ghost"))
}
