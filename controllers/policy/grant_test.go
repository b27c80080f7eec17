package policy

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/opdomain/opdomain/test/netcheck"
)

var (
	weatherSvc = netcheck.Endpoint{Name: "another data service", Namespace: "data", Labels: map[string]string{"app": "weather"}}
	lookalike  = netcheck.Endpoint{Name: "same labels elsewhere", Namespace: "elsewhere", Labels: map[string]string{"app": "traffic-flow"}}
)

func grantPath() GrantPath {
	return GrantPath{Grant: "g", Workspace: "ws-a", DataZone: "data", Targets: []Target{
		{PodLabels: map[string]string{"app": "traffic-flow"}, Port: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
	}}
}

// Each side of a grant's path is exact on its own, so neither relies on the other: the
// workspace's egress reaches only the granted pods and port even where the data zone lets
// everything in, and the data zone admits only the granted workspace even from an open sender.
func TestR4_EachSideOfAGrantPathIsExact(t *testing.T) {
	open := func(ns string) Isolation { return Isolation{Namespace: ns, Open: true, DNS: KubeDNS} }
	cases := []struct {
		name     string
		isolated []Isolation
		side     int // 0: the workspace's egress; 1: the data zone's ingress
		flows    []expectation
	}{
		{"egress alone", []Isolation{open("ws-a")}, 0, []expectation{
			flow(wsA, dataSvc, 8080, corev1.ProtocolTCP, true),
			flow(wsA, dataSvc, 9090, corev1.ProtocolTCP, false),
			flow(wsA, dataSvc, 8080, corev1.ProtocolUDP, false),
			flow(wsA, weatherSvc, 8080, corev1.ProtocolTCP, false),
			flow(wsA, lookalike, 8080, corev1.ProtocolTCP, false),
			flow(wsA, outside, 8080, corev1.ProtocolTCP, false),
		}},
		{"ingress alone", []Isolation{open("data")}, 1, []expectation{
			flow(wsA, dataSvc, 8080, corev1.ProtocolTCP, true),
			flow(wsA2, dataSvc, 8080, corev1.ProtocolTCP, true),
			flow(wsA, dataSvc, 9090, corev1.ProtocolTCP, false),
			flow(wsB, dataSvc, 8080, corev1.ProtocolTCP, false),
			flow(lookalike, dataSvc, 8080, corev1.ProtocolTCP, false),
			flow(wsA, weatherSvc, 8080, corev1.ProtocolTCP, false),
			flow(outside, dataSvc, 8080, corev1.ProtocolTCP, false),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectInBothRenderings(t, tc.isolated, grantPath(), tc.side, tc.flows)
		})
	}
}

// expectInBothRenderings evaluates the isolation of namespaces plus the path's rendered
// policies (all of them when side is negative, else only that one) with both engines.
func expectInBothRenderings(t *testing.T, isolated []Isolation, path GrantPath, side int, flows []expectation) {
	t.Helper()
	g := NewWithT(t)
	nps, cnps := path.Kubernetes(), path.Cilium()
	if side >= 0 {
		nps, cnps = nps[side:side+1], cnps[side:side+1]
	}
	for _, iso := range isolated {
		nps = append(nps, iso.Kubernetes()...)
		cnps = append(cnps, iso.Cilium()...)
	}
	kube := netcheck.NewKubernetes(nps)
	cilium, err := netcheck.NewCilium(cnps)
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range flows {
		g.Expect(kube.Allows(f.Flow)).To(Equal(f.allowed), "Kubernetes: "+describe(f))
		g.Expect(cilium.Allows(f.Flow)).To(Equal(f.allowed), "Cilium: "+describe(f))
	}
}

// A Service that targets a named port opens exactly that named port.
func TestR4_GrantPathToANamedPort(t *testing.T) {
	path := grantPath()
	path.Targets[0].Port = intstr.FromString("https")
	named := func(name string, allowed bool) expectation {
		e := flow(wsA, dataSvc, 8443, corev1.ProtocolTCP, allowed)
		e.PortName = name
		return e
	}
	expectInBothRenderings(t, []Isolation{{Namespace: "ws-a", Open: true, DNS: KubeDNS}, {Namespace: "data", Open: true, DNS: KubeDNS}}, path, -1,
		[]expectation{named("https", true), named("metrics", false), named("", false)})
}
