package integration

import (
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/test/netcheck"
)

// The policies as the API server stores them, not as the operator meant them, decide who may
// reach whom: a workspace pod reaches kube-dns on 53 and its own namespace, and nothing else.
func TestR1_StoredPoliciesAllowOnlyDNSAndOwnNamespace(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "net1", opv1.NetworkPolicyBoth, 24*time.Hour)
	other := addWorkspace(t, w, "rival")

	train, notebook := pod(w.wsNamespace(), "train"), pod(w.wsNamespace(), "notebook")
	rival := pod(other.Status.Namespace, "train")
	data := pod("net1-data", "traffic-flow")
	control := pod("net1-control", "anything")
	namespaces := []string{w.wsNamespace(), other.Status.Namespace, "net1-data", "net1-control"}

	check := func(expect []expectation) { t.Helper(); assertFlows(t, namespaces, expect) }

	check([]expectation{
		allow(flow(train, notebook, 8888, tcp)),
		allow(flow(train, kubeDNS, 53, udp)),
		allow(flow(train, kubeDNS, 53, tcp)),
		deny(flow(train, kubeDNS, 443, tcp)),
		deny(flow(train, rival, 8080, tcp)),
		deny(flow(rival, train, 8080, tcp)),
		deny(flow(train, data, 8443, tcp)),
		deny(flow(data, train, 8443, tcp)),
		deny(flow(train, control, 443, tcp)),
		deny(flow(train, outside, 443, tcp)),
		deny(flow(outside, train, 8080, tcp)),
		// Token introspection: from the data zone only, to the manager's webhook port only.
		allow(flow(data, manager, 9443, tcp)),
		deny(flow(data, manager, 8080, tcp)),
		deny(flow(data, notManager, 9443, tcp)),
		deny(flow(train, manager, 9443, tcp)),
		deny(flow(control, manager, 9443, tcp)),
	})

	// Suspended, the agreement's workspaces keep only their deny: not even their own pods talk.
	// The domain's own namespaces are untouched.
	setSuspension(t, w.developer, &opv1.Suspension{Reason: "SecurityRisk"})
	for _, ws := range []*opv1.DeveloperWorkspace{w.ws, other} {
		g.Eventually(workspacePhase(ws), timeout, poll).Should(Equal(opv1.WorkspaceSuspended), ws.Name)
	}
	check([]expectation{
		deny(flow(train, notebook, 8888, tcp)),
		deny(flow(train, kubeDNS, 53, udp)),
		deny(flow(train, outside, 443, tcp)),
		deny(flow(rival, kubeDNS, 53, udp)),
		allow(flow(data, kubeDNS, 53, udp)),
	})
}

type expectation struct {
	flow    netcheck.Flow
	allowed bool
}

func flow(from, to netcheck.Endpoint, port int, proto corev1.Protocol) netcheck.Flow {
	return netcheck.Flow{From: from, To: to, Port: port, Protocol: proto}
}
func allow(f netcheck.Flow) expectation { return expectation{f, true} }
func deny(f netcheck.Flow) expectation  { return expectation{f, false} }

// assertFlows evaluates the policies stored in namespaces with both engines and asserts each
// expectation in both renderings.
func assertFlows(t testing.TB, namespaces []string, expect []expectation) {
	t.Helper()
	g := NewWithT(t)
	var nps []*networkingv1.NetworkPolicy
	var cnps []*ciliumv2.CiliumNetworkPolicy
	for _, ns := range namespaces {
		var npList networkingv1.NetworkPolicyList
		g.Expect(k8s.List(ctx, &npList, client.InNamespace(ns))).To(Succeed())
		for i := range npList.Items {
			nps = append(nps, &npList.Items[i])
		}
		var cnpList ciliumv2.CiliumNetworkPolicyList
		g.Expect(k8s.List(ctx, &cnpList, client.InNamespace(ns))).To(Succeed())
		for i := range cnpList.Items {
			cnps = append(cnps, &cnpList.Items[i])
		}
	}
	kube := netcheck.NewKubernetes(nps)
	cilium, err := netcheck.NewCilium(cnps)
	g.Expect(err).NotTo(HaveOccurred())
	for _, e := range expect {
		f, allowed := e.flow, e.allowed
		g.Expect(kube.Allows(f)).To(Equal(allowed), "Kubernetes: %s -> %s:%d/%s", f.From.Name, f.To.Name, f.Port, f.Protocol)
		g.Expect(cilium.Allows(f)).To(Equal(allowed), "Cilium: %s -> %s:%d/%s", f.From.Name, f.To.Name, f.Port, f.Protocol)
	}
}

func pod(ns, app string) netcheck.Endpoint {
	return netcheck.Endpoint{Name: app + " in " + ns, Namespace: ns, Labels: map[string]string{"app": app}}
}

var (
	kubeDNS = netcheck.Endpoint{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}
	outside = netcheck.Endpoint{Name: "outside", IP: "203.0.113.7"}
	manager = netcheck.Endpoint{Name: "opdomain manager", Namespace: introspectionPeer.Namespace, Labels: introspectionPeer.PodLabels}
	// notManager is another pod beside the manager.
	notManager = netcheck.Endpoint{Name: "beside the manager", Namespace: introspectionPeer.Namespace, Labels: map[string]string{"app": "other"}}
	tcp        = corev1.ProtocolTCP
	udp        = corev1.ProtocolUDP
)
