package e2e

import (
	"fmt"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/fixtures"
	"github.com/opdomain/opdomain/test/node"
)

const (
	timeout = time.Minute
	poll    = 100 * time.Millisecond
)

// world is a domain admitting the suite's images and asking the in-domain resolver, an Operator and a Developer agreement in
// force, and the developer's workspaces, all Ready.
type world struct {
	domain              *opv1.OperationDomain
	operator, developer *opv1.Authorization
	workspaces          map[string]string // workspace name → its namespace
}

func newWorld(t testing.TB, name string, workspaces ...string) *world {
	t.Helper()
	g := NewWithT(t)
	d := fixtures.Domain(name, opv1.NetworkPolicyKubernetes, "opdomain.test")
	// The chart's in-domain resolver (install): only cluster names resolve, DNS is contained.
	d.Spec.DNS.Resolver = &opv1.ServiceReference{Namespace: resolverNamespace, Name: resolverName}
	// Every test's pods share one small node: a container that sets no resources asks for little.
	d.Spec.WorkspaceDefaults.ContainerDefaults = opv1.ContainerDefaults{CPU: fixtures.Quantity("100m"), Memory: fixtures.Quantity("64Mi")}
	g.Expect(k8s.Create(ctx, d)).To(Succeed())
	waitReady(t, d)
	now := time.Now()
	operator := fixtures.Agreement(d, "operator", opv1.RoleOperator, "", now.Add(-2*time.Hour), now.Add(60*24*time.Hour),
		"91320100MA1CPRAT0P", fixtures.Trained("Wang Wu", "wang@operator.example", now))
	developer := fixtures.Agreement(d, "acme", opv1.RoleDeveloper, "operator", now.Add(-time.Hour), now.Add(30*24*time.Hour),
		"91320100MA1ABCDE2J", fixtures.Trained("Li Si", "lisi@acme.example", now))
	for _, a := range []*opv1.Authorization{operator, developer} {
		g.Expect(k8s.Create(ctx, a)).To(Succeed())
		g.Eventually(func() opv1.AuthorizationPhase {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
			return a.Status.Phase
		}, timeout, poll).Should(Equal(opv1.PhaseActive))
	}
	w := &world{domain: d, operator: operator, developer: developer, workspaces: map[string]string{}}
	for _, ws := range workspaces {
		obj := &opv1.DeveloperWorkspace{
			ObjectMeta: metav1.ObjectMeta{Name: ws, Namespace: d.Spec.ControlNamespace},
			Spec:       opv1.DeveloperWorkspaceSpec{Authorization: developer.Name, Members: []string{"lisi@acme.example"}},
		}
		g.Expect(k8s.Create(ctx, obj)).To(Succeed())
		waitReady(t, obj)
		w.workspaces[ws] = workspace.NamespaceName(d.Name, ws)
		// The API server loads a new domain's fence binding moments after it is stored; until
		// then it refuses every workspace pod, fence-less (README: known limits).
		g.Eventually(func() error {
			return k8s.Create(ctx, node.RestrictedPod(w.workspaces[ws], "fence-probe", "pause"), client.DryRunAll)
		}, timeout, poll).Should(Succeed())
	}
	return w
}

func waitReady(t testing.TB, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() string { return fixtures.ReadyStatus(ctx, k8s, obj) }, timeout, poll).Should(Equal("True"),
		"%T %s never became Ready", obj, obj.GetName())
}

// serve runs a pod of the agent answering on port 8080 in namespace (agent serve, or what
// args say instead) and returns its address.
func serve(t testing.TB, namespace, name string, args ...string) string {
	t.Helper()
	if len(args) == 0 {
		args = []string{"serve", ":8080"}
	}
	pod := node.RestrictedPod(namespace, name, args...)
	running(t, pod)
	return net.JoinHostPort(pod.Status.PodIP, "8080")
}

// running creates pod, admitted once its namespace's default ServiceAccount exists, and waits
// until it runs.
func running(t testing.TB, pod *corev1.Pod) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func() error { return k8s.Create(ctx, pod) }, timeout, poll).Should(Succeed())
	g.Eventually(func() corev1.PodPhase {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		return pod.Status.Phase
	}, timeout, poll).Should(Equal(corev1.PodRunning), "pod %s/%s", pod.Namespace, pod.Name)
}

// reaches says whether a new pod in namespace that dials target at once reaches it. In a
// workspace the pod's fence (controllers/fence) holds the dial until the enforcer holds the pod.
func reaches(t testing.TB, namespace, target string) bool {
	t.Helper()
	reached, err := nd.Dial(ctx, namespace, target)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return reached
}

// answers waits until a new pod in namespace reaches target: the control that target is up and
// may be reached from there. Outside workspaces no fence holds a new pod, and the enforcer drops
// a pod it does not know yet at the destination's ingress policy, so the first tries may fail.
func answers(t testing.TB, namespace, target string) {
	t.Helper()
	NewWithT(t).Eventually(func() bool { return reaches(t, namespace, target) }, timeout, poll).Should(BeTrue(),
		"%s answers from %s", target, namespace)
}

// R1: a pod in a workspace reaches the pods of its own namespace and nothing else — not a pod of
// another workspace of the same developer, not the data zone, not a host outside the cluster —
// while each of those answers from where it may be reached, and one policy allowing the outside
// host added to the workspace lets the pod out, so every refusal is the domain's policies at work, enforced by
// the node's kernel.
func TestR1_WorkspacePodReachesItsOwnNamespaceAndNothingElse(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "net1", "team-a", "team-b")
	a, b, data := w.workspaces["team-a"], w.workspaces["team-b"], w.domain.Spec.DataZoneNamespace
	ungoverned := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "net1-elsewhere"}}
	g.Expect(k8s.Create(ctx, ungoverned)).To(Succeed())

	targets := map[string]string{
		"its own namespace": serve(t, a, "a-server"),
		"another workspace": serve(t, b, "b-server"),
		"the data zone":     serve(t, data, "data-server"),
		"a host outside":    node.OutsideAddr,
	}
	// Where each target may be reached from: it is up and answering.
	from := map[string]string{"its own namespace": a, "another workspace": b, "the data zone": data, "a host outside": ungoverned.Name}
	for what, target := range targets {
		answers(t, from[what], target)
	}
	for what, target := range targets {
		want := what == "its own namespace"
		g.Expect(reaches(t, a, target)).To(Equal(want), fmt.Sprintf("a workspace pod reaching %s (%s)", what, target))
	}

	// The mutation that shows this test can fail: one policy allowing egress to the outside
	// host's network, added beside the domain's, and the same pod gets out. (Allowing all egress
	// would also open the fence's target, and a pod whose fence connects waits in its fence.)
	outside := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "mutation-allow-outside", Namespace: a},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
				IPBlock: &networkingv1.IPBlock{CIDR: node.OutsideCIDR},
			}}}},
		},
	}
	g.Expect(k8s.Create(ctx, outside)).To(Succeed())
	g.Eventually(func() bool { return reaches(t, a, node.OutsideAddr) }, timeout, poll).Should(BeTrue(),
		"with a policy allowing it added, a workspace pod reaches the host outside")
}

// R1, a limit of Kubernetes NetworkPolicy, proven so that the README's warning stays true: the
// API says traffic between a pod and the node it runs on is always allowed, whatever the
// policies, and the enforcer keeps to it. A workspace pod of a Kubernetes-mode domain reaches
// whatever listens on its node's addresses; a node firewall, or a Cilium-mode domain (whose
// policies deny the host entity), must close that.
func TestR1_KubernetesPoliciesCannotDenyAPodItsOwnNode(t *testing.T) {
	w := newWorld(t, "net2", "team-a")
	NewWithT(t).Expect(reaches(t, w.workspaces["team-a"], node.NodeAddr)).To(BeTrue(),
		"if this fails, the enforcer now denies pods their node: update the README's limits")
}
