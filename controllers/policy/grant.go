package policy

import (
	"fmt"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_metav1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// GrantPath is the network path one DataGrant opens (R4): from every pod of one workspace to
// exactly the pods behind each granted Service, on exactly its port, and nothing else. It is
// rendered as an egress allow in the workspace and one ingress allow per target in the data
// zone, both needed because both namespaces deny by default.
type GrantPath struct {
	// Grant names the DataGrant; the rendered policies are named after it.
	Grant     string
	Workspace string
	DataZone  string
	Targets   []Target
	// Labels are stamped on every rendered policy.
	Labels map[string]string
}

// Target is the pods behind one granted Service and the pod port it serves on.
type Target struct {
	PodLabels map[string]string
	Port      intstr.IntOrString
	Protocol  corev1.Protocol
}

// EgressName is the workspace-side policy of a grant.
func EgressName(grant string) string { return "opdomain-grant-" + grant }

// IngressName is the data-zone-side policy of a grant's i-th target.
func IngressName(grant string, i int) string { return fmt.Sprintf("opdomain-grant-%s-%d", grant, i) }

func (p GrantPath) meta(namespace, name string) metav1.ObjectMeta {
	labels := make(map[string]string, len(p.Labels))
	for k, v := range p.Labels {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
}

// Kubernetes renders the path as NetworkPolicies: the workspace's egress first, then the data
// zone's ingresses.
func (p GrantPath) Kubernetes() []*networkingv1.NetworkPolicy {
	egress := &networkingv1.NetworkPolicy{
		ObjectMeta: p.meta(p.Workspace, EgressName(p.Grant)),
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	out := []*networkingv1.NetworkPolicy{egress}
	for i, t := range p.Targets {
		port := networkingv1.NetworkPolicyPort{Protocol: &t.Protocol, Port: &t.Port}
		egress.Spec.Egress = append(egress.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: namespaceIs(p.DataZone),
				PodSelector:       &metav1.LabelSelector{MatchLabels: t.PodLabels},
			}},
			Ports: []networkingv1.NetworkPolicyPort{port},
		})
		out = append(out, &networkingv1.NetworkPolicy{
			ObjectMeta: p.meta(p.DataZone, IngressName(p.Grant, i)),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: t.PodLabels},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespaceIs(p.Workspace)}},
					Ports: []networkingv1.NetworkPolicyPort{port},
				}},
			},
		})
	}
	return out
}

// Cilium renders the path as CiliumNetworkPolicies, in the same order and with the same names.
func (p GrantPath) Cilium() []*ciliumv2.CiliumNetworkPolicy {
	egress := &ciliumv2.CiliumNetworkPolicy{
		ObjectMeta: p.meta(p.Workspace, EgressName(p.Grant)),
		Spec:       &api.Rule{EndpointSelector: api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{})},
	}
	out := []*ciliumv2.CiliumNetworkPolicy{egress}
	for i, t := range p.Targets {
		ports := api.PortRules{{Ports: []api.PortProtocol{{Port: t.Port.String(), Protocol: api.L4Proto(t.Protocol)}}}}
		egress.Spec.Egress = append(egress.Spec.Egress, api.EgressRule{
			EgressCommonRule: api.EgressCommonRule{ToEndpoints: []api.EndpointSelector{endpoints(p.DataZone, t.PodLabels)}},
			ToPorts:          ports,
		})
		out = append(out, &ciliumv2.CiliumNetworkPolicy{
			ObjectMeta: p.meta(p.DataZone, IngressName(p.Grant, i)),
			Spec: &api.Rule{
				EndpointSelector: endpoints("", t.PodLabels),
				Ingress: []api.IngressRule{{
					IngressCommonRule: api.IngressCommonRule{FromEndpoints: []api.EndpointSelector{endpoints(p.Workspace, nil)}},
					ToPorts:           ports,
				}},
			},
		})
	}
	return out
}

func namespaceIs(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: name}}
}

// endpoints selects the Cilium endpoints with the given pod labels, in namespace when set (a
// namespaced policy's selectors without it stay in the policy's own namespace).
func endpoints(namespace string, podLabels map[string]string) api.EndpointSelector {
	labels := make(map[string]string, len(podLabels)+1)
	if namespace != "" {
		labels["k8s:"+podNamespaceLabel] = namespace
	}
	for k, v := range podLabels {
		labels["k8s:"+k] = v
	}
	return api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{MatchLabels: labels})
}
