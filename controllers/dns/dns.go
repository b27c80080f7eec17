// Package dns decides which resolver a domain's pods use, and whether their DNS is contained:
// whether a query for a name outside the cluster can leave the domain (R1). A resolver that
// forwards such names upstream is an exit nobody reviews: a workload can spell data into the
// names it asks for.
package dns

import (
	"cmp"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/policy"
)

// DefaultClusterDomain is the DNS domain of a cluster that does not say otherwise.
const DefaultClusterDomain = "cluster.local"

// Resolution is the resolver a domain's pods use and what it guarantees.
type Resolution struct {
	// DNS is where the network policies let pods send queries; the zero DNS reaches none.
	DNS policy.DNS
	// IP is the cluster IP of the domain's own resolver, which pods are set to ask; empty when
	// they use the cluster's resolver.
	IP string
	// Contained says whether no query for an outside name can leave the domain.
	Contained       bool
	Reason, Message string
}

// Resolve reads the domain's resolver. cluster is the cluster's own resolver, used when the
// domain names none.
func Resolve(ctx context.Context, c client.Reader, d *opv1.OperationDomain, cluster policy.DNS) (Resolution, error) {
	clusterDomain := cmp.Or(d.Spec.DNS.ClusterDomain, DefaultClusterDomain)
	ref := d.Spec.DNS.Resolver
	if ref == nil {
		res := Resolution{DNS: cluster}
		res.DNS.ClusterDomain = clusterDomain
		if d.Spec.NetworkPolicy == opv1.NetworkPolicyCilium {
			res.Contained, res.Reason = true, opv1.ReasonCiliumDNSRules
			res.Message = fmt.Sprintf("Cilium's DNS rules let through only queries for names under %s; every other query is refused before it reaches the resolver", clusterDomain)
			return res, nil
		}
		res.Reason = opv1.ReasonResolverForwards
		res.Message = fmt.Sprintf("the cluster's resolver %s forwards names outside the cluster, and %s network policies cannot filter names: "+
			"name an in-domain resolver in spec.dns.resolver (config/dns installs one) or render with networkPolicy: Cilium; Raw grants stay closed",
			cluster.Namespace, d.Spec.NetworkPolicy)
		if d.Spec.NetworkPolicy == opv1.NetworkPolicyBoth {
			res.Message += " (with Both, the Kubernetes policy's DNS allow overrides Cilium's DNS rules)"
		}
		return res, nil
	}
	var svc corev1.Service
	err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &svc)
	switch {
	case apierrors.IsNotFound(err):
		return notUsable(ref, "is not found"), nil
	case err != nil:
		return Resolution{}, err
	case len(svc.Spec.Selector) == 0:
		return notUsable(ref, "selects no pods"), nil
	case svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone:
		return notUsable(ref, "has no cluster IP"), nil
	}
	return Resolution{
		DNS:       policy.DNS{Namespace: svc.Namespace, PodLabels: svc.Spec.Selector, ClusterDomain: clusterDomain},
		IP:        svc.Spec.ClusterIP,
		Contained: true,
		Reason:    opv1.ReasonInDomainResolver,
		Message: fmt.Sprintf("pods ask only the domain's resolver %s/%s at %s, which answers names under %s and forwards nothing",
			svc.Namespace, svc.Name, svc.Spec.ClusterIP, clusterDomain),
	}, nil
}

// notUsable leaves the domain's pods no resolver at all: failing closed, not falling back to
// one that forwards.
func notUsable(ref *opv1.ServiceReference, why string) Resolution {
	return Resolution{Reason: opv1.ReasonResolverNotFound,
		Message: fmt.Sprintf("spec.dns.resolver: Service %s/%s %s; the domain's pods can resolve no name", ref.Namespace, ref.Name, why)}
}
