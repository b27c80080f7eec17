package policy

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cilium/cilium/pkg/fqdn/matchpattern"
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

// domainModel renders the isolation of three domain namespaces; ws-a is open or closed, and
// reaches a resolver or none.
func domainModel(wsAOpen, wsAResolves bool) []Isolation {
	wsADNS := KubeDNS
	if !wsAResolves {
		wsADNS = DNS{}
	}
	return []Isolation{
		{Namespace: "ws-a", Open: wsAOpen, DNS: wsADNS},
		{Namespace: "ws-b", Open: true, DNS: KubeDNS},
		{Namespace: "data", Open: true, DNS: KubeDNS},
	}
}

var truthTables = []struct {
	name      string
	open, dns bool
	flows     []expectation
}{
	{"open", true, true, []expectation{
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
	{"closed", false, true, []expectation{
		flow(wsA, wsA2, 8080, corev1.ProtocolTCP, false),
		flow(wsA, kubeDNS, 53, corev1.ProtocolUDP, false),
		flow(wsA, outside, 443, corev1.ProtocolTCP, false),
		flow(wsB, wsA, 8080, corev1.ProtocolTCP, false),
		// The closed namespace does not disturb the open one.
		flow(wsB, kubeDNS, 53, corev1.ProtocolUDP, true),
	}},
	// A domain whose named resolver is missing: no DNS at all, never a fallback resolver.
	{"open without a resolver", true, false, []expectation{
		flow(wsA, wsA2, 8080, corev1.ProtocolTCP, true),
		flow(wsA, kubeDNS, 53, corev1.ProtocolUDP, false),
		flow(wsA, kubeDNS, 53, corev1.ProtocolTCP, false),
		flow(wsA, outside, 53, corev1.ProtocolUDP, false),
		flow(wsB, kubeDNS, 53, corev1.ProtocolUDP, true),
	}},
}

func TestR1_KubernetesRenderingAllowsOnlyDNSAndSameNamespace(t *testing.T) {
	for _, tc := range truthTables {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var nps []*networkingv1.NetworkPolicy
			for _, iso := range domainModel(tc.open, tc.dns) {
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
			for _, iso := range domainModel(tc.open, tc.dns) {
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

// The Cilium rendering's DNS allow lets through, by Cilium's own matcher, only names under the
// cluster domain; without a cluster domain it filters nothing (R1).
func TestR1_CiliumDNSAllowFiltersNamesByClusterDomain(t *testing.T) {
	g := NewWithT(t)
	dns := KubeDNS
	dns.ClusterDomain = "cluster.example"
	allow := Isolation{Namespace: "ws-a", Open: true, DNS: dns}.Cilium()[2]
	g.Expect(allow.Name).To(Equal(AllowDNS))
	rules := allow.Spec.Egress[0].ToPorts[0].Rules
	g.Expect(rules).NotTo(BeNil())
	g.Expect(rules.DNS).To(HaveLen(1))
	re, err := matchpattern.Validate(matchpattern.Sanitize(rules.DNS[0].MatchPattern))
	g.Expect(err).NotTo(HaveOccurred())
	for name, want := range map[string]bool{
		"api.data.svc.cluster.example.": true,
		"cluster.example.":              false,
		"cluster.local.":                false,
		"x.cluster.example.evil.":       false,
		"4.3.2.1.in-addr.arpa.":         false,
	} {
		g.Expect(re.MatchString(name)).To(Equal(want), name)
	}
	unfiltered := Isolation{Namespace: "ws-a", Open: true, DNS: KubeDNS}.Cilium()[2]
	g.Expect(unfiltered.Spec.Egress[0].ToPorts[0].Rules).To(BeNil())
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

// The introspection allow exists only where a peer is named and only while the namespace is
// open; closing withdraws it with every other allow.
func TestR1_IntrospectionAllowOnlyWhereNamedAndOpen(t *testing.T) {
	g := NewWithT(t)
	peer := Peer{Namespace: "opdomain-system", PodLabels: map[string]string{"app.kubernetes.io/name": "opdomain"}, Port: 9443}
	named := Isolation{Namespace: "d-data", Open: true, DNS: KubeDNS, Introspection: peer}
	g.Expect(named.Names()).To(ContainElement(AllowIntrospection))
	g.Expect(named.Withdrawn()).To(BeEmpty())
	g.Expect(named.Kubernetes()).To(HaveLen(len(named.Names())))
	g.Expect(named.Cilium()).To(HaveLen(len(named.Names())))
	named.Open = false
	g.Expect(named.Names()).To(Equal([]string{DefaultDeny}))
	g.Expect(named.Withdrawn()).To(ContainElement(AllowIntrospection))
	for _, missing := range []Peer{{}, {Namespace: "x", Port: 9443}, {Namespace: "x", PodLabels: peer.PodLabels}} {
		iso := Isolation{Namespace: "d-data", Open: true, DNS: KubeDNS, Introspection: missing}
		g.Expect(iso.Names()).NotTo(ContainElement(AllowIntrospection), "%+v", missing)
		g.Expect(iso.Withdrawn()).To(Equal([]string{AllowIntrospection}))
	}
}
