package policy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/cilium/cilium/pkg/policy/types"
	"github.com/mattfenwick/cyclonus/pkg/matcher"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// endpoint is a pod, or an address outside the cluster when namespace is empty.
type endpoint struct {
	name      string
	namespace string
	labels    map[string]string
	ip        string
}

var (
	wsA      = endpoint{name: "workspace A pod", namespace: "ws-a", labels: map[string]string{"app": "train"}}
	wsA2     = endpoint{name: "another workspace A pod", namespace: "ws-a", labels: map[string]string{"app": "notebook"}}
	wsB      = endpoint{name: "workspace B pod", namespace: "ws-b", labels: map[string]string{"app": "train"}}
	dataSvc  = endpoint{name: "data zone service", namespace: "data", labels: map[string]string{"app": "traffic-flow"}}
	kubeDNS  = endpoint{name: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}}
	kubeProx = endpoint{name: "other kube-system pod", namespace: "kube-system", labels: map[string]string{"k8s-app": "metrics"}}
	outside  = endpoint{name: "address outside the cluster", ip: "203.0.113.7"}
)

type flow struct {
	from, to endpoint
	port     int
	proto    corev1.Protocol
	allowed  bool
}

// domainModel renders the isolation of three domain namespaces; ws-a is open or closed.
func domainModel(wsAOpen bool) []Isolation {
	return []Isolation{
		{Namespace: "ws-a", Open: wsAOpen, DNS: KubeDNS},
		{Namespace: "ws-b", Open: true, DNS: KubeDNS},
		{Namespace: "data", Open: true, DNS: KubeDNS},
	}
}

func openTruthTable() []flow {
	return []flow{
		{wsA, wsA2, 8080, corev1.ProtocolTCP, true},
		{wsA, kubeDNS, 53, corev1.ProtocolUDP, true},
		{wsA, kubeDNS, 53, corev1.ProtocolTCP, true},
		{wsA, kubeDNS, 80, corev1.ProtocolTCP, false},
		{wsA, kubeProx, 53, corev1.ProtocolUDP, false},
		{wsA, wsB, 8080, corev1.ProtocolTCP, false},
		{wsB, wsA, 8080, corev1.ProtocolTCP, false},
		{wsA, dataSvc, 8080, corev1.ProtocolTCP, false},
		{dataSvc, wsA, 8080, corev1.ProtocolTCP, false},
		{wsA, outside, 443, corev1.ProtocolTCP, false},
		{wsA, outside, 53, corev1.ProtocolUDP, false},
		{outside, wsA, 8080, corev1.ProtocolTCP, false},
		{kubeProx, wsA, 8080, corev1.ProtocolTCP, false},
	}
}

func closedTruthTable() []flow {
	return []flow{
		{wsA, wsA2, 8080, corev1.ProtocolTCP, false},
		{wsA, kubeDNS, 53, corev1.ProtocolUDP, false},
		{wsA, outside, 443, corev1.ProtocolTCP, false},
		{wsB, wsA, 8080, corev1.ProtocolTCP, false},
		// The closed namespace does not disturb the open one.
		{wsB, kubeDNS, 53, corev1.ProtocolUDP, true},
	}
}

func TestR1_KubernetesRenderingAllowsOnlyDNSAndSameNamespace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		open  bool
		flows []flow
	}{
		{"open", true, openTruthTable()},
		{"closed", false, closedTruthTable()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var nps []*networkingv1.NetworkPolicy
			for _, iso := range domainModel(tc.open) {
				nps = append(nps, iso.Kubernetes()...)
			}
			engine := matcher.BuildNetworkPolicies(false, nps)
			for _, f := range tc.flows {
				res := engine.IsTrafficAllowed(&matcher.Traffic{
					Source: cyclonusPeer(f.from), Destination: cyclonusPeer(f.to),
					ResolvedPort: f.port, Protocol: f.proto,
				})
				g.Expect(res.Ingress.IsAllowed() && res.Egress.IsAllowed()).To(Equal(f.allowed), describe(f))
			}
		})
	}
}

func TestR1_CiliumRenderingAllowsOnlyDNSAndSameNamespace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		open  bool
		flows []flow
	}{
		{"open", true, openTruthTable()},
		{"closed", false, closedTruthTable()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var rules api.Rules
			for _, iso := range domainModel(tc.open) {
				for _, cnp := range iso.Cilium() {
					parsed, err := parseCilium(cnp)
					g.Expect(err).NotTo(HaveOccurred(), cnp.Name)
					rules = append(rules, parsed...)
				}
			}
			for _, f := range tc.flows {
				g.Expect(ciliumAllows(rules, f)).To(Equal(f.allowed), describe(f))
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
	rules, err := parseCilium(&back)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ciliumAllows(rules, flow{from: wsA, to: wsA2, port: 80, proto: corev1.ProtocolTCP})).To(BeFalse())
}

func describe(f flow) string {
	verdict := "denied"
	if f.allowed {
		verdict = "allowed"
	}
	return fmt.Sprintf("%s -> %s on %d/%s should be %s", f.from.name, f.to.name, f.port, f.proto, verdict)
}

func cyclonusPeer(e endpoint) *matcher.TrafficPeer {
	if e.namespace == "" {
		return &matcher.TrafficPeer{IP: e.ip}
	}
	return &matcher.TrafficPeer{IP: "10.0.0.1", Internal: &matcher.InternalPeer{
		PodLabels: e.labels, Namespace: e.namespace,
		NamespaceLabels: map[string]string{corev1.LabelMetadataName: e.namespace},
	}}
}

// parseCilium runs a policy through Cilium's own parsing and sanitising, which also scopes its
// selectors to the policy's namespace the way the agent does.
func parseCilium(cnp *ciliumv2.CiliumNetworkPolicy) (api.Rules, error) {
	return cnp.Parse(slog.New(slog.DiscardHandler), "")
}

// ciliumAllows evaluates parsed rules the way Cilium enforces them: traffic passes when the
// source's egress and the destination's ingress both allow it; a side that no rule puts into
// default deny allows everything.
func ciliumAllows(rules api.Rules, f flow) bool {
	return ciliumDirection(rules, f.from, f.to, f, true) && ciliumDirection(rules, f.to, f.from, f, false)
}

func ciliumDirection(rules api.Rules, subject, peer endpoint, f flow, egress bool) bool {
	if subject.namespace == "" {
		return true // outside the cluster: Cilium does not enforce there
	}
	subjectLabels, peerLabels := ciliumLabels(subject), ciliumLabels(peer)
	enforced := false
	for _, r := range rules {
		if !types.NewLabelSelector(r.EndpointSelector).Matches(subjectLabels) {
			continue
		}
		if egress {
			enforced = enforced || len(r.Egress) > 0 || isTrue(r.EnableDefaultDeny.Egress)
			for _, er := range r.Egress {
				if selectsAny(er.ToEndpoints, peerLabels) && portsAllow(er.ToPorts, f) {
					return true
				}
			}
		} else {
			enforced = enforced || len(r.Ingress) > 0 || isTrue(r.EnableDefaultDeny.Ingress)
			for _, ir := range r.Ingress {
				if selectsAny(ir.FromEndpoints, peerLabels) && portsAllow(ir.ToPorts, f) {
					return true
				}
			}
		}
	}
	return !enforced
}

func ciliumLabels(e endpoint) labels.LabelArray {
	if e.namespace == "" {
		return labels.ParseLabelArray("reserved:world")
	}
	out := []string{"k8s:" + podNamespaceLabel + "=" + e.namespace}
	for k, v := range e.labels {
		out = append(out, "k8s:"+k+"="+v)
	}
	return labels.ParseLabelArray(out...)
}

func selectsAny(selectors []api.EndpointSelector, lbls labels.LabelArray) bool {
	for _, s := range selectors {
		if types.NewLabelSelector(s).Matches(lbls) {
			return true
		}
	}
	return false
}

func portsAllow(rules api.PortRules, f flow) bool {
	if len(rules) == 0 {
		return true
	}
	want := api.PortProtocol{Port: strconv.Itoa(f.port), Protocol: api.L4Proto(f.proto)}
	for _, pr := range rules {
		for _, p := range pr.Ports {
			if p.Covers(want) {
				return true
			}
		}
	}
	return false
}

func isTrue(b *bool) bool { return b != nil && *b }
