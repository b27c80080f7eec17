package policy

import (
	"encoding/json"
	"fmt"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/opdomain/opdomain/test/netcheck"
)

var (
	wsA      = netcheck.Endpoint{Name: "workspace A pod", Namespace: "ws-a", Labels: map[string]string{"app": "train"}}
	wsA2     = netcheck.Endpoint{Name: "another workspace A pod", Namespace: "ws-a", Labels: map[string]string{"app": "notebook"}}
	wsB      = netcheck.Endpoint{Name: "workspace B pod", Namespace: "ws-b", Labels: map[string]string{"app": "train"}}
	dataSvc  = netcheck.Endpoint{Name: "data zone service", Namespace: "data", Labels: map[string]string{"app": "traffic-flow"}}
	kubeDNS  = netcheck.Endpoint{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}
	otherSys = netcheck.Endpoint{Name: "other kube-system pod", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "metrics"}}
	outside  = netcheck.Endpoint{Name: "address outside the cluster", IP: "203.0.113.7"}
)

type expectation struct {
	netcheck.Flow
	allowed bool
}

func flow(from, to netcheck.Endpoint, port int, proto corev1.Protocol, allowed bool) expectation {
	return expectation{netcheck.Flow{From: from, To: to, Port: port, Protocol: proto}, allowed}
}

// domainModel renders the isolation of three domain namespaces; ws-a is open or closed.
func domainModel(wsAOpen bool) []Isolation {
	return []Isolation{
		{Namespace: "ws-a", Open: wsAOpen, DNS: KubeDNS},
		{Namespace: "ws-b", Open: true, DNS: KubeDNS},
		{Namespace: "data", Open: true, DNS: KubeDNS},
	}
}

var truthTables = []struct {
	name  string
	open  bool
	flows []expectation
}{
	{"open", true, []expectation{
		flow(wsA, wsA2, 8080, corev1.ProtocolTCP, true),
		flow(wsA, kubeDNS, 53, corev1.ProtocolUDP, true),
		flow(wsA, kubeDNS, 53, corev1.ProtocolTCP, true),
		flow(wsA, kubeDNS, 80, corev1.ProtocolTCP, false),
		flow(wsA, otherSys, 53, corev1.ProtocolUDP, false),
		flow(wsA, wsB, 8080, corev1.ProtocolTCP, false),
		flow(wsB, wsA, 8080, corev1.ProtocolTCP, false),
		flow(wsA, dataSvc, 8080, corev1.ProtocolTCP, false),
		flow(dataSvc, wsA, 8080, corev1.ProtocolTCP, false),
		flow(wsA, outside, 443, corev1.ProtocolTCP, false),
		flow(wsA, outside, 53, corev1.ProtocolUDP, false),
		flow(outside, wsA, 8080, corev1.ProtocolTCP, false),
		flow(otherSys, wsA, 8080, corev1.ProtocolTCP, false),
	}},
	{"closed", false, []expectation{
		flow(wsA, wsA2, 8080, corev1.ProtocolTCP, false),
		flow(wsA, kubeDNS, 53, corev1.ProtocolUDP, false),
		flow(wsA, outside, 443, corev1.ProtocolTCP, false),
		flow(wsB, wsA, 8080, corev1.ProtocolTCP, false),
		// The closed namespace does not disturb the open one.
		flow(wsB, kubeDNS, 53, corev1.ProtocolUDP, true),
	}},
}

func TestR1_KubernetesRenderingAllowsOnlyDNSAndSameNamespace(t *testing.T) {
	for _, tc := range truthTables {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var nps []*networkingv1.NetworkPolicy
			for _, iso := range domainModel(tc.open) {
				nps = append(nps, iso.Kubernetes()...)
			}
			engine := netcheck.NewKubernetes(nps)
			for _, f := range tc.flows {
				g.Expect(engine.Allows(f.Flow)).To(Equal(f.allowed), describe(f))
			}
		})
	}
}

func TestR1_CiliumRenderingAllowsOnlyDNSAndSameNamespace(t *testing.T) {
	for _, tc := range truthTables {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var cnps []*ciliumv2.CiliumNetworkPolicy
			for _, iso := range domainModel(tc.open) {
				cnps = append(cnps, iso.Cilium()...)
			}
			engine, err := netcheck.NewCilium(cnps)
			g.Expect(err).NotTo(HaveOccurred())
			for _, f := range tc.flows {
				g.Expect(engine.Allows(f.Flow)).To(Equal(f.allowed), describe(f))
			}
		})
	}
}

// A CiliumNetworkPolicy survives the JSON round trip through the API server only if its
// default deny is not an omitted empty list.
func TestR1_CiliumDefaultDenySurvivesSerialization(t *testing.T) {
	g := NewWithT(t)
	deny := Isolation{Namespace: "ws-a", DNS: KubeDNS}.Cilium()[0]
	raw, err := json.Marshal(deny)
	g.Expect(err).NotTo(HaveOccurred())
	var back ciliumv2.CiliumNetworkPolicy
	g.Expect(json.Unmarshal(raw, &back)).To(Succeed())
	g.Expect(back.Spec.Ingress).To(HaveLen(1))
	g.Expect(back.Spec.Egress).To(HaveLen(1))
	engine, err := netcheck.NewCilium([]*ciliumv2.CiliumNetworkPolicy{&back})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(engine.Allows(netcheck.Flow{From: wsA, To: wsA2, Port: 80, Protocol: corev1.ProtocolTCP})).To(BeFalse())
}

func describe(f expectation) string {
	verdict := "denied"
	if f.allowed {
		verdict = "allowed"
	}
	port := fmt.Sprint(f.Port)
	if f.PortName != "" {
		port += " (" + f.PortName + ")"
	}
	return fmt.Sprintf("%s -> %s on %s/%s should be %s", f.From.Name, f.To.Name, port, f.Protocol, verdict)
}
