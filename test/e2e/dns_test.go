package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/opdomain/opdomain/test/node"
)

// runs says whether a pod of the agent in namespace, run with args, succeeds, and logs what
// the agent wrote.
func runs(t testing.TB, namespace string, args ...string) bool {
	t.Helper()
	ok, out, err := nd.Run(ctx, namespace, args...)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	t.Logf("agent %v in %s: %s", args, namespace, out)
	return ok
}

// R1: a workspace pod resolves its cluster's names, and no name it asks for is ever looked up
// beyond the cluster: not through the resolver its domain gives it, not asked straight of the
// cluster's resolver (which forwards what it does not know) or of the upstream resolver itself.
// The upstream records every name it is asked, and a pod outside the domain asking for the same
// kind of name gets through to it, so that each absence is the domain's containment at work.
func TestR1_NoDNSQueryFromAWorkspaceReachesTheUpstreamResolver(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "dns1", "team-a")
	ns := w.workspaces["team-a"]
	ungoverned := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dns1-elsewhere"}}
	g.Expect(k8s.Create(ctx, ungoverned)).To(Succeed())

	serve(t, ns, "results")
	service := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "results", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "results"},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	g.Expect(k8s.Create(ctx, service)).To(Succeed())
	// The controls may take a second try: on the busy test node a workspace pod's lookup now and
	// then goes unanswered (twice in about ten runs; not pinned down — the enforcer judges each
	// new flow's first packet in user space), and a lookup waits 5 s before it asks again.
	succeeds := func(namespace string, args ...string) func() bool {
		return func() bool { return runs(t, namespace, args...) }
	}
	g.Eventually(succeeds(ns, "resolve", "results."+ns+".svc.cluster.local"), timeout, poll).Should(BeTrue(), "a Service of its own namespace resolves")
	g.Eventually(succeeds(ns, "dial", "results."+ns+".svc.cluster.local:8080"), timeout, poll).Should(BeTrue(), "and answers by name")

	// Names spelling data, unique to this run, so the upstream's record can only hold them
	// if they got out now.
	stamp := fmt.Sprintf("%x", time.Now().UnixNano())
	leaks := map[string][]string{
		"through the resolver its domain gives it": {"resolve", "rows-" + stamp + ".exfil.example"},
		"under the cluster's own domain":           {"resolve", "zone-" + stamp + ".svc.cluster.local"},
		"asking the cluster's resolver itself":     {"resolve", "cluster-" + stamp + ".exfil.example", node.ClusterDNSIP + ":53"},
		"asking the upstream resolver itself":      {"resolve", "upstream-" + stamp + ".exfil.example", node.UpstreamResolver},
	}
	for how, args := range leaks {
		g.Expect(runs(t, ns, args...)).To(BeFalse(), "a workspace pod resolved a name %s", how)
	}

	control := "control-" + stamp + ".exfil.example"
	g.Eventually(succeeds(ungoverned.Name, "resolve", control), timeout, poll).Should(BeTrue(), "a pod outside the domain resolves an outside name")
	queries, err := nd.UpstreamQueries()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queries).To(ContainElement(control+"."), "the upstream records the names it is asked")
	for _, q := range queries {
		if strings.Contains(q, stamp) {
			g.Expect(q).To(Equal(control+"."), "a name a workspace pod asked for reached the upstream resolver")
		}
	}
}
