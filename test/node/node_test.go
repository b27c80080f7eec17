package node

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/test/controlplane"
)

// The harness itself: the node comes up and runs the suite's images; a pod reaches another
// through the bridge and through a ClusterIP Service (kube-proxy), reaches the outside host and
// the node, and does not reach a port nothing listens on, so the agent's dial can fail; once a NetworkPolicy denies the server's
// ingress, the enforcer drops both; Stop leaves nothing behind on the host.
func TestNodeRunsPodsThatReachEachOther(t *testing.T) {
	g := NewWithT(t)
	n, err := Claim()
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { g.Expect(n.Release()).To(Succeed()) }()
	stopped := false
	defer func() {
		if t.Failed() && !stopped {
			t.Log(n.Logs())
		}
		if !stopped {
			_ = n.Stop()
		}
	}()
	cp, err := controlplane.Start(controllers.Scheme(), controlplane.WithWorkloadControllers(), n.ControlPlane())
	g.Expect(err).NotTo(HaveOccurred())
	// The node stops while the control plane still runs: it deletes its pods through the API.
	defer func() { _ = cp.Stop() }()
	began := time.Now()
	g.Expect(n.Start(cp)).To(Succeed())
	t.Logf("node Ready %v after the control plane", time.Since(began).Round(time.Millisecond))

	ctx := context.Background()
	c := cp.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "harness"}}
	g.Expect(c.Create(ctx, ns)).To(Succeed())
	server := RestrictedPod(ns.Name, "server", "serve", ":8080")
	g.Eventually(func() error { return c.Create(ctx, server) }, 30*time.Second, 200*time.Millisecond).Should(Succeed(),
		"admitted once the namespace's default ServiceAccount exists")
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: ns.Name},
		Spec:       corev1.ServiceSpec{Selector: server.Labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	g.Expect(c.Create(ctx, svc)).To(Succeed())
	began = time.Now()
	g.Eventually(func() corev1.PodPhase {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(server), server)).To(Succeed())
		return server.Status.Phase
	}, time.Minute, 100*time.Millisecond).Should(Equal(corev1.PodRunning), func() string { return fmt.Sprintf("%s %+v", server.Spec.NodeName, server.Status) })
	t.Logf("server pod Running %v after it was created", time.Since(began).Round(time.Millisecond))

	dial := func(target string) bool {
		reached, err := n.Dial(ctx, ns.Name, target)
		g.Expect(err).NotTo(HaveOccurred())
		return reached
	}
	g.Expect(dial(server.Status.PodIP+":8080")).To(BeTrue(), "pod to pod")
	g.Expect(dial(svc.Spec.ClusterIP+":80")).To(BeTrue(), "through the Service")
	g.Expect(dial(server.Status.PodIP+":9999")).To(BeFalse(), "a closed port")
	g.Expect(dial(OutsideAddr)).To(BeTrue(), "the host outside the cluster")
	g.Expect(dial(NodeAddr)).To(BeTrue(), "the node itself")

	// The enforcer drops what a policy does not allow.
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-server", Namespace: ns.Name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: server.Labels}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	g.Expect(c.Create(ctx, deny)).To(Succeed())
	g.Expect(dial(server.Status.PodIP+":8080")).To(BeFalse(), "pod to pod, ingress denied")
	g.Expect(dial(svc.Spec.ClusterIP+":80")).To(BeFalse(), "through the Service, ingress denied")

	stopped = true
	g.Expect(n.Stop()).To(Succeed())
	g.Expect(exec.Command("ip", "link", "show", bridge).Run()).To(HaveOccurred(), "the bridge is gone")
	g.Expect(exec.Command("nft", "list", "table", "ip", "kube-proxy").Run()).To(HaveOccurred(), "kube-proxy's table is gone")
	g.Expect(exec.Command("nft", "list", "table", "inet", enforcerTable).Run()).To(HaveOccurred(), "the enforcer's table is gone")
	g.Expect(exec.Command("ip", "netns", "pids", outsideNetns).Run()).To(HaveOccurred(), "the outside host is gone")
	for _, table := range []string{"filter", "nat", "mangle"} {
		out, err := exec.Command("iptables", "-t", table, "-S").Output()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(out)).NotTo(ContainSubstring("KUBE-"), "the kubelet's chains are gone from %s", table)
	}
}
