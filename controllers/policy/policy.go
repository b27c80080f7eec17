// Package policy renders the network isolation of a domain namespace (R1) as Kubernetes
// NetworkPolicies and CiliumNetworkPolicies: two renderings of one model, built by pure functions.
package policy

import (
	"strconv"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_metav1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names of the policies every domain namespace carries.
const (
	DefaultDeny        = "opdomain-default-deny"
	AllowDNS           = "opdomain-allow-dns"
	AllowSameNamespace = "opdomain-allow-same-namespace"
	// AllowIntrospection lets a data zone's data services ask the operator whether a grant
	// token is active (grant.Introspector).
	AllowIntrospection = "opdomain-allow-introspection"
)

// All names every policy the model may render, the deny last, so that a removal cut short
// leaves the namespace denied.
var All = []string{AllowDNS, AllowSameNamespace, AllowIntrospection, DefaultDeny}

// Peer is a set of pods outside a namespace that its pods may reach on one TCP port. The zero
// Peer is reached by nothing.
type Peer struct {
	Namespace string
	PodLabels map[string]string
	Port      int32
}

func (p Peer) reachable() bool { return p.Namespace != "" && len(p.PodLabels) > 0 && p.Port > 0 }

// DNS says where the resolver a domain's pods use runs: the one destination outside its own
// namespace a domain pod may always reach. The zero DNS reaches no resolver at all.
type DNS struct {
	Namespace string
	PodLabels map[string]string
	// ClusterDomain, where set, limits queries to names under it in the renderings that can
	// filter names (Cilium's DNS rules); reverse zones and every other name are refused.
	ClusterDomain string
}

func (d DNS) reachable() bool { return d.Namespace != "" }

// clusterNamesPattern is the Cilium DNS match pattern of every name under clusterDomain, at any
// depth ("**." is Cilium's subdomain wildcard), and of nothing else.
func clusterNamesPattern(clusterDomain string) string { return "**." + clusterDomain }

// KubeDNS is the DNS of a standard cluster: kube-system pods labelled k8s-app=kube-dns.
var KubeDNS = DNS{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}}

// Isolation is the network model of one domain namespace: everything denied, and, while Open,
// DNS and traffic between the namespace's own pods allowed. A closed namespace keeps only the
// deny, so access is cut and nothing else changes.
type Isolation struct {
	Namespace string
	// Labels are stamped on every rendered policy.
	Labels map[string]string
	Open   bool
	// AtRest marks a namespace that holds bytes at rest and is never opened (a domain's airlock
	// and outbox): with nothing ever opened there is nothing to cut.
	AtRest bool
	DNS    DNS
	// Introspection, where reachable, is the operator's token introspection endpoint; only a
	// data zone names it.
	Introspection Peer
}

// allows lists every allow of the model and whether it is wanted now.
func (iso Isolation) allows() []struct {
	name   string
	wanted bool
} {
	return []struct {
		name   string
		wanted bool
	}{
		{AllowDNS, iso.Open && iso.DNS.reachable()},
		{AllowSameNamespace, iso.Open},
		{AllowIntrospection, iso.Open && iso.Introspection.reachable()},
	}
}

// Names returns the names of the policies the model renders, in both renderings.
func (iso Isolation) Names() []string {
	out := []string{DefaultDeny}
	for _, a := range iso.allows() {
		if a.wanted {
			out = append(out, a.name)
		}
	}
	return out
}

// Withdrawn returns the names of policies the model does not want now and that must go: the
// allows while closed, an allow while its destination is not reachable.
func (iso Isolation) Withdrawn() []string {
	var out []string
	for _, a := range iso.allows() {
		if !a.wanted {
			out = append(out, a.name)
		}
	}
	return out
}

func (iso Isolation) meta(name string) metav1.ObjectMeta {
	labels := make(map[string]string, len(iso.Labels))
	for k, v := range iso.Labels {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: iso.Namespace, Labels: labels}
}

// Kubernetes renders the model as NetworkPolicies.
func (iso Isolation) Kubernetes() []*networkingv1.NetworkPolicy {
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	out := []*networkingv1.NetworkPolicy{{
		ObjectMeta: iso.meta(DefaultDeny),
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: both},
	}}
	if !iso.Open {
		return out
	}
	samePods := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	out = append(out, &networkingv1.NetworkPolicy{
		ObjectMeta: iso.meta(AllowSameNamespace),
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: both,
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: samePods}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: samePods}},
		},
	})
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	if p := iso.Introspection; p.reachable() {
		port := intstr.FromInt32(p.Port)
		out = append(out, &networkingv1.NetworkPolicy{
			ObjectMeta: iso.meta(AllowIntrospection),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceIs(p.Namespace), PodSelector: &metav1.LabelSelector{MatchLabels: p.PodLabels}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
				}},
			},
		})
	}
	if !iso.DNS.reachable() {
		return out
	}
	dnsPort := intstr.FromInt32(53)
	return append(out,
		&networkingv1.NetworkPolicy{
			ObjectMeta: iso.meta(AllowDNS),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: namespaceIs(iso.DNS.Namespace),
						PodSelector:       &metav1.LabelSelector{MatchLabels: iso.DNS.PodLabels},
					}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dnsPort}, {Protocol: &tcp, Port: &dnsPort}},
				}},
			},
		},
	)
}

// Cilium renders the model as CiliumNetworkPolicies. Cilium restricts an empty endpoint selector
// in a namespaced policy to that namespace.
func (iso Isolation) Cilium() []*ciliumv2.CiliumNetworkPolicy {
	enabled := true
	all := api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{})
	out := []*ciliumv2.CiliumNetworkPolicy{{
		ObjectMeta: iso.meta(DefaultDeny),
		Spec: &api.Rule{
			EndpointSelector:  all,
			EnableDefaultDeny: api.DefaultDenyConfig{Ingress: &enabled, Egress: &enabled},
			// One empty rule each way: selects the endpoints into default deny and allows nothing.
			// An empty list would be dropped by omitempty and the deny with it.
			Ingress: []api.IngressRule{{}},
			Egress:  []api.EgressRule{{}},
		},
	}}
	if !iso.Open {
		return out
	}
	out = append(out, &ciliumv2.CiliumNetworkPolicy{
		ObjectMeta: iso.meta(AllowSameNamespace),
		Spec: &api.Rule{
			EndpointSelector: all,
			Ingress: []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{
				FromEndpoints: []api.EndpointSelector{all},
			}}},
			Egress: []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{
				ToEndpoints: []api.EndpointSelector{all},
			}}},
		},
	})
	if p := iso.Introspection; p.reachable() {
		out = append(out, &ciliumv2.CiliumNetworkPolicy{
			ObjectMeta: iso.meta(AllowIntrospection),
			Spec: &api.Rule{
				EndpointSelector: all,
				Egress: []api.EgressRule{{
					EgressCommonRule: api.EgressCommonRule{ToEndpoints: []api.EndpointSelector{endpoints(p.Namespace, p.PodLabels)}},
					ToPorts:          api.PortRules{{Ports: []api.PortProtocol{{Port: strconv.Itoa(int(p.Port)), Protocol: api.ProtoTCP}}}},
				}},
			},
		})
	}
	if !iso.DNS.reachable() {
		return out
	}
	dnsPorts := api.PortRule{Ports: []api.PortProtocol{
		{Port: "53", Protocol: api.ProtoUDP}, {Port: "53", Protocol: api.ProtoTCP},
	}}
	if iso.DNS.ClusterDomain != "" {
		// Cilium's DNS proxy answers every other query itself with a refusal: it never reaches
		// the resolver, which would forward it out of the cluster.
		dnsPorts.Rules = &api.L7Rules{DNS: []api.PortRuleDNS{{MatchPattern: clusterNamesPattern(iso.DNS.ClusterDomain)}}}
	}
	return append(out, &ciliumv2.CiliumNetworkPolicy{
		ObjectMeta: iso.meta(AllowDNS),
		Spec: &api.Rule{
			EndpointSelector: all,
			Egress: []api.EgressRule{{
				EgressCommonRule: api.EgressCommonRule{
					ToEndpoints: []api.EndpointSelector{endpoints(iso.DNS.Namespace, iso.DNS.PodLabels)},
				},
				ToPorts: api.PortRules{dnsPorts},
			}},
		},
	})
}

// podNamespaceLabel is the label Cilium gives every endpoint with its pod's namespace.
const podNamespaceLabel = "io.kubernetes.pod.namespace"
