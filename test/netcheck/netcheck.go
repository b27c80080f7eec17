// Package netcheck answers "may this traffic flow?" from network policies alone, with engines
// nobody in this project wrote: cyclonus's matcher for Kubernetes NetworkPolicies, and Cilium's
// own parser, sanitiser and selector matching for CiliumNetworkPolicies.
package netcheck

import (
	"log/slog"
	"strconv"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/cilium/cilium/pkg/policy/types"
	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Endpoint is a pod, or an address outside the cluster when Namespace is empty.
type Endpoint struct {
	Name      string
	Namespace string
	Labels    map[string]string
	IP        string
}

// Flow is one connection attempt.
type Flow struct {
	From, To Endpoint
	Port     int
	// PortName is the destination pod's name for Port, if it names it: named-port rules match it.
	PortName string
	Protocol corev1.Protocol
}

// Kubernetes evaluates NetworkPolicies.
type Kubernetes struct{ policy *matcher.Policy }

// NewKubernetes builds the cyclonus engine from the policies of every namespace involved.
func NewKubernetes(nps []*networkingv1.NetworkPolicy) Kubernetes {
	return Kubernetes{policy: matcher.BuildNetworkPolicies(false, nps)}
}

// Allows reports whether both the source's egress and the destination's ingress allow f.
func (k Kubernetes) Allows(f Flow) bool {
	res := k.policy.IsTrafficAllowed(&matcher.Traffic{
		Source: cyclonusPeer(f.From), Destination: cyclonusPeer(f.To), ResolvedPort: f.Port, ResolvedPortName: f.PortName, Protocol: f.Protocol,
	})
	return res.Ingress.IsAllowed() && res.Egress.IsAllowed()
}

func cyclonusPeer(e Endpoint) *matcher.TrafficPeer {
	if e.Namespace == "" {
		return &matcher.TrafficPeer{IP: e.IP}
	}
	return &matcher.TrafficPeer{IP: "10.0.0.1", Internal: &matcher.InternalPeer{
		PodLabels: e.Labels, Namespace: e.Namespace,
		NamespaceLabels: map[string]string{corev1.LabelMetadataName: e.Namespace},
	}}
}

// Cilium evaluates CiliumNetworkPolicies as the agent parses them.
type Cilium struct{ rules api.Rules }

// NewCilium parses every policy with Cilium's own code, which also scopes each selector to the
// policy's namespace the way the agent does; a policy the agent would reject is an error.
func NewCilium(cnps []*ciliumv2.CiliumNetworkPolicy) (Cilium, error) {
	var rules api.Rules
	for _, cnp := range cnps {
		parsed, err := cnp.Parse(slog.New(slog.DiscardHandler), "")
		if err != nil {
			return Cilium{}, err
		}
		rules = append(rules, parsed...)
	}
	return Cilium{rules: rules}, nil
}

// Allows reports whether f passes: the source's egress and the destination's ingress must both
// allow it, and a side that no rule puts into default deny allows everything.
func (c Cilium) Allows(f Flow) bool {
	return c.direction(f.From, f.To, f, true) && c.direction(f.To, f.From, f, false)
}

func (c Cilium) direction(subject, peer Endpoint, f Flow, egress bool) bool {
	if subject.Namespace == "" {
		return true // outside the cluster: Cilium does not enforce there
	}
	subjectLabels, peerLabels := ciliumLabels(subject), ciliumLabels(peer)
	enforced := false
	for _, r := range c.rules {
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
			continue
		}
		enforced = enforced || len(r.Ingress) > 0 || isTrue(r.EnableDefaultDeny.Ingress)
		for _, ir := range r.Ingress {
			if selectsAny(ir.FromEndpoints, peerLabels) && portsAllow(ir.ToPorts, f) {
				return true
			}
		}
	}
	return !enforced
}

// ciliumLabels are the identity labels the agent gives an endpoint.
func ciliumLabels(e Endpoint) labels.LabelArray {
	if e.Namespace == "" {
		return labels.ParseLabelArray("reserved:world")
	}
	out := []string{"k8s:io.kubernetes.pod.namespace=" + e.Namespace}
	for k, v := range e.Labels {
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

func portsAllow(rules api.PortRules, f Flow) bool {
	if len(rules) == 0 {
		return true
	}
	wants := []api.PortProtocol{{Port: strconv.Itoa(f.Port), Protocol: api.L4Proto(f.Protocol)}}
	if f.PortName != "" {
		// The agent resolves a named port against the destination's container ports.
		wants = append(wants, api.PortProtocol{Port: f.PortName, Protocol: api.L4Proto(f.Protocol)})
	}
	for _, pr := range rules {
		for _, p := range pr.Ports {
			for _, want := range wants {
				if p.Covers(want) {
					return true
				}
			}
		}
	}
	return false
}

func isTrue(b *bool) bool { return b != nil && *b }
