package integration

import (
	"testing"
	"time"

	"github.com/cilium/cilium/pkg/fqdn/matchpattern"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/test/netcheck"
)

// useResolver names ref as the domain's resolver and waits until the domain says its DNS is
// contained by it.
func useResolver(t testing.TB, d *opv1.OperationDomain, ref *opv1.ServiceReference) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.DNS.Resolver = ref
	g.Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
	g.Eventually(conditionText(d, opv1.ConditionDNSContained), timeout, poll).Should(HavePrefix("True/" + opv1.ReasonInDomainResolver))
}

// Where a Kubernetes NetworkPolicy renders the DNS allow (alone or beside Cilium), names cannot
// be filtered: the cluster's forwarding resolver leaves DNS uncontained and a Raw grant stays
// closed. Naming an in-domain resolver contains it:
// the policies let DNS reach only that resolver, pods are set to ask it, and the grant opens.
// Should the resolver go, the domain's pods can resolve nothing and the grant closes (R1, R4).
func TestR1_DNSLeavesTheDomainOnlyThroughItsOwnResolver(t *testing.T) {
	g := NewWithT(t)
	w := &grantWorld{world: newWorld(t, "dns1", opv1.NetworkPolicyBoth, 30*24*time.Hour)}
	dataService(t, w.domain, "traffic-api", 8080)
	w.traffic = dataResource(w.domain, "traffic-flow", 2, opv1.DataSource{Service: &opv1.ServiceSource{Name: "traffic-api", Port: 8080}})
	g.Expect(k8s.Create(ctx, w.traffic)).To(Succeed())
	setScope(t, w.operator, "traffic-flow")
	setScope(t, w.developer, "traffic-flow")

	g.Eventually(conditionText(w.domain, opv1.ConditionDNSContained), timeout, poll).Should(And(
		HavePrefix("False/"+opv1.ReasonResolverForwards), ContainSubstring("spec.dns.resolver"),
		ContainSubstring("the Kubernetes policy's DNS allow overrides Cilium's DNS rules")))
	raw := w.grant("raw")
	g.Expect(asReviewer.Create(ctx, raw)).To(Succeed())
	g.Eventually(conditionText(raw, opv1.ConditionReady), timeout, poll).Should(HavePrefix("False/" + opv1.ReasonDNSNotContained))
	g.Consistently(grantObjects(raw), time.Second, poll).Should(BeEmpty(), "no path, no token")

	ref := inDomainResolver(t)
	useResolver(t, w.domain, ref)
	var svc corev1.Service
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &svc)).To(Succeed())
	g.Expect(w.domain.Status.DNS.ResolverIP).To(Equal(svc.Spec.ClusterIP))
	g.Eventually(grantPhase(raw), timeout, poll).Should(Equal(opv1.GrantActive))

	train := pod(w.wsNamespace(), "train")
	namespaces := []string{w.wsNamespace(), w.domain.Spec.DataZoneNamespace}
	g.Eventually(func() []string { return egressNamespaces(w.wsNamespace(), policy.AllowDNS) }, timeout, poll).Should(ConsistOf(resolverNamespace))
	assertFlows(t, namespaces, []expectation{
		allow(flow(train, domainResolver, 53, udp)),
		allow(flow(train, domainResolver, 53, tcp)),
		deny(flow(train, kubeDNS, 53, udp)),
		deny(flow(train, domainResolver, 443, tcp)),
	})

	// Pods are set to ask the domain's resolver, whatever they say.
	p := restrictedPod(w.wsNamespace(), "asks")
	p.Spec.DNSPolicy = corev1.DNSDefault
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	g.Expect(p.Spec.DNSPolicy).To(Equal(corev1.DNSNone))
	g.Expect(p.Spec.DNSConfig).NotTo(BeNil())
	g.Expect(p.Spec.DNSConfig.Nameservers).To(Equal([]string{svc.Spec.ClusterIP}))
	g.Expect(p.Spec.DNSConfig.Searches).To(Equal([]string{w.wsNamespace() + ".svc.cluster.local", "svc.cluster.local", "cluster.local"}))

	// The resolver gone: no DNS at all rather than a fallback that forwards, and no Raw data.
	g.Expect(k8s.Delete(ctx, &svc)).To(Succeed())
	t.Cleanup(func() { inDomainResolver(t) })
	g.Eventually(conditionText(w.domain, opv1.ConditionDNSContained), timeout, poll).Should(HavePrefix("False/" + opv1.ReasonResolverNotFound))
	g.Eventually(grantPhase(raw), timeout, poll).Should(Equal(opv1.GrantSuspended))
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: policy.AllowDNS}, &networkingv1.NetworkPolicy{}))
	}, timeout, poll).Should(BeTrue(), "the DNS allow is withdrawn")
	assertFlows(t, namespaces, []expectation{deny(flow(train, domainResolver, 53, udp)), deny(flow(train, kubeDNS, 53, udp))})
}

// Rendered by Cilium, the DNS allow carries DNS rules that Cilium's own matcher passes for the
// cluster's names only: no outside name, no reverse zone (R1).
func TestR1_CiliumDNSRulesAdmitOnlyClusterNames(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "dns2", opv1.NetworkPolicyCilium, 24*time.Hour)
	g.Eventually(conditionText(w.domain, opv1.ConditionDNSContained), timeout, poll).Should(HavePrefix("True/" + opv1.ReasonCiliumDNSRules))

	var stored ciliumv2.CiliumNetworkPolicy
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.wsNamespace(), Name: policy.AllowDNS}, &stored)).To(Succeed())
	g.Expect(stored.Spec.Egress).To(HaveLen(1))
	g.Expect(stored.Spec.Egress[0].ToPorts).To(HaveLen(1))
	rules := stored.Spec.Egress[0].ToPorts[0].Rules
	g.Expect(rules).NotTo(BeNil(), "the DNS allow filters names")
	g.Expect(rules.DNS).NotTo(BeEmpty())
	admitted := func(name string) bool {
		for _, r := range rules.DNS {
			g.Expect(r.MatchName).To(BeEmpty(), "only patterns are rendered")
			re, err := matchpattern.Validate(matchpattern.Sanitize(r.MatchPattern))
			g.Expect(err).NotTo(HaveOccurred())
			if re.MatchString(name) {
				return true
			}
		}
		return false
	}
	for name, want := range map[string]bool{
		"traffic-api.dns2-data.svc.cluster.local.":          true,
		"0-1-2-3.train.dns2-ws-acme-dev.svc.cluster.local.": true,
		"kubernetes.default.svc.cluster.local.":             true,
		"example.org.":                                      false,
		"cGFzc3dvcmQ.exfil.attacker.example.":               false,
		"cluster.local.attacker.example.":                   false,
		"7.0.0.10.in-addr.arpa.":                            false,
		"svc.cluster.local.evil.":                           false,
	} {
		g.Expect(admitted(name)).To(Equal(want), name)
	}

	// The workspaces' DNS allows carry the same rules.
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.domain.Spec.DataZoneNamespace, Name: policy.AllowDNS}, &stored)).To(Succeed())
	g.Expect(stored.Spec.Egress[0].ToPorts[0].Rules).To(Equal(rules))
}

// domainResolver is a pod of the resolver inDomainResolver names.
var domainResolver = netcheck.Endpoint{Name: "in-domain resolver", Namespace: resolverNamespace, Labels: resolverLabels}

// egressNamespaces lists the namespaces a stored NetworkPolicy's egress peers select by name.
func egressNamespaces(namespace, name string) []string {
	var np networkingv1.NetworkPolicy
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &np); err != nil {
		return nil
	}
	var out []string
	for _, e := range np.Spec.Egress {
		for _, to := range e.To {
			if to.NamespaceSelector != nil {
				out = append(out, to.NamespaceSelector.MatchLabels[corev1.LabelMetadataName])
			}
		}
	}
	return out
}
