package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/node"
)

// reviewer is the Operator agreement's person in newWorld, who reviews grants.
const reviewer = "wang@operator.example"

// asReviewer binds the reviewer ClusterRole to the reviewer (once) and acts as them.
func asReviewer(t testing.TB) client.Client {
	t.Helper()
	g := NewWithT(t)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: reviewer}},
	}
	g.Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, binding))).To(Succeed())
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: reviewer}
	c, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	return c
}

// newGrantWorld is a world with a workspace team-a, a data service traffic-api answering in the
// data zone (agent serve, or what server says instead), and the resource traffic-flow it serves
// in both agreements' scope; it returns the world and the service's address.
func newGrantWorld(t testing.TB, name string, server ...string) (*world, string) {
	t.Helper()
	g := NewWithT(t)
	w := newWorld(t, name, "team-a")
	data := w.domain.Spec.DataZoneNamespace
	serve(t, data, "traffic-api", server...)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "traffic-api", Namespace: data},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "traffic-api"},
			Ports:    []corev1.ServicePort{{Name: "api", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	g.Expect(k8s.Create(ctx, svc)).To(Succeed())
	resource := &opv1.DataResource{
		ObjectMeta: metav1.ObjectMeta{Name: "traffic-flow", Namespace: w.domain.Spec.ControlNamespace},
		Spec: opv1.DataResourceSpec{
			Provider: "Provincial Transport Department", Level: 2,
			Fields: []opv1.Field{{Name: "road_id"}, {Name: "hour"}, {Name: "plate", Sensitive: true}},
			Source: opv1.DataSource{Service: &opv1.ServiceSource{Name: "traffic-api", Port: 8080}},
		},
	}
	g.Expect(k8s.Create(ctx, resource)).To(Succeed())
	g.Eventually(func() bool {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(resource), resource)).To(Succeed())
		return resource.Status.Offerable
	}, timeout, poll).Should(BeTrue())
	for _, a := range []*opv1.Authorization{w.operator, w.developer} {
		patch := client.MergeFrom(a.DeepCopy())
		a.Spec.Scope.Resources = []string{"traffic-flow"}
		g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
	}
	return w, net.JoinHostPort(svc.Spec.ClusterIP, "8080")
}

// R4, R2: an approved grant opens the granted data service to the workspace on the node, and
// nothing before it; when the reviewer revokes it, a pod that was getting through is refused or
// ended within 2 s, and a new pod no longer gets through.
func TestR4_GrantOpensTheDataServiceUntilRevoked(t *testing.T) {
	g := NewWithT(t)
	w, target := newGrantWorld(t, "grant1")
	ws := w.workspaces["team-a"]
	answers(t, w.domain.Spec.DataZoneNamespace, target)
	g.Expect(reaches(t, ws, target)).To(BeFalse(), "no grant, no path")
	cut := grantCut(t, w, asReviewer(t), target, "congestion", func() {
		g.Expect(reaches(t, ws, target)).To(BeTrue(), "the grant's path")
	})
	t.Logf("revocation → the prober refused or ended: %v", cut.Round(time.Millisecond))
	g.Expect(cut).To(BeNumerically("<", 2*time.Second), "a revoked grant's path closes within 2 s")
	g.Expect(reaches(t, ws, target)).To(BeFalse(), "revoked, no path")
}

// grantCut opens a grant named name (openGrant), runs whileOpen, and measures (probeCut) how
// long after the reviewer's revocation a pod dialing target is refused or ended.
func grantCut(t testing.TB, w *world, review client.Client, target, name string, whileOpen func()) time.Duration {
	t.Helper()
	grant := openGrant(t, w, review, name, time.Hour)
	whileOpen()
	_, cut := probeCut(t, w, name+"-prober", target, written(t, func() error { return revoke(review, grant) }))
	return cut
}

// probeCut starts a pod in the world's team-a workspace that dials target every 50 ms, and once
// it runs (behind its fence), calls cut, which returns when the boundary fell; it returns how the pod
// ended (refused, or stopped with its pod) and how long after the boundary.
func probeCut(t testing.TB, w *world, name, target string, cut func() time.Time) (string, time.Duration) {
	t.Helper()
	g := NewWithT(t)
	prober := node.RestrictedPod(w.workspaces["team-a"], name, "probe", target)
	prober.Spec.RestartPolicy = corev1.RestartPolicyNever
	running(t, prober)
	defer func() { _ = k8s.Delete(ctx, prober, client.GracePeriodSeconds(0)) }()
	ended := watchTermination(t, prober)
	boundary := cut()
	how, at := ended()
	took := at.Sub(boundary)
	// The prober reports when its failing dial began; the enforcer judges a queued packet in
	// user space, so a dial begun just before the boundary may be judged after it. Earlier than
	// one dial (200 ms) and its pause (50 ms), something else broke the path.
	g.Expect(took).To(BeNumerically(">", -250*time.Millisecond), "the path closed before the cut: something else broke it")
	return how, took
}

// written makes a write the boundary: it falls when the write is sent.
func written(t testing.TB, write func() error) func() time.Time {
	return func() time.Time {
		sent := time.Now()
		NewWithT(t).Expect(write()).To(Succeed())
		return sent
	}
}

// openGrant approves a grant named name of traffic-flow, desensitized, to the world's team-a
// workspace for a term of the given length and waits until it is Active.
func openGrant(t testing.TB, w *world, review client.Client, name string, term time.Duration) *opv1.DataGrant {
	return openGrantOf(t, w, review, name, opv1.FormDesensitized, term)
}

// openGrantOf is openGrant of data in the given form.
func openGrantOf(t testing.TB, w *world, review client.Client, name string, form opv1.DataForm, term time.Duration) *opv1.DataGrant {
	t.Helper()
	g := NewWithT(t)
	now := time.Now()
	grant := &opv1.DataGrant{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.domain.Spec.ControlNamespace},
		Spec: opv1.DataGrantSpec{
			Authorization: w.developer.Name, Workspace: "team-a",
			Scenario:    opv1.Scenario{Name: "urban congestion forecasting", Purpose: "hourly road load model"},
			Items:       []opv1.GrantItem{{Resource: "traffic-flow", Fields: []string{"road_id", "hour"}, Form: form}},
			Term:        opv1.Term{Start: metav1.NewTime(now), End: metav1.NewTime(now.Add(term))},
			Measures:    "results aggregated to road level",
			RequestedBy: "lisi@acme.example",
			Review:      &opv1.Review{Reviewer: reviewer, Decision: opv1.ReviewApproved, Time: ptr.To(metav1.NewTime(now))},
		},
	}
	g.Expect(review.Create(ctx, grant)).To(Succeed())
	g.Eventually(func() opv1.GrantPhase {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(grant), grant)).To(Succeed())
		return grant.Status.Phase
	}, timeout, poll).Should(Equal(opv1.GrantActive))
	return grant
}

// revoke rejects the grant as its reviewer.
func revoke(review client.Client, grant *opv1.DataGrant) error {
	patch := client.MergeFrom(grant.DeepCopy())
	grant.Spec.Review.Decision = opv1.ReviewRejected
	grant.Spec.Review.Comment = "purpose no longer holds"
	return review.Patch(ctx, grant, patch)
}

// watchTermination starts watching pod and returns a function that waits until the agent in it
// has ended and returns what it wrote as its termination message: how it ended and when.
// Watching, rather than polling, sees the ending even when the pod is deleted right after it.
func watchTermination(t testing.TB, pod *corev1.Pod) func() (string, time.Time) {
	t.Helper()
	g := NewWithT(t)
	w, err := client.NewWithWatch(cp.Config, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	events, err := w.Watch(ctx, &corev1.PodList{}, client.InNamespace(pod.Namespace),
		client.MatchingFields{"metadata.name": pod.Name})
	g.Expect(err).NotTo(HaveOccurred())
	return func() (string, time.Time) {
		defer events.Stop()
		deadline := time.After(timeout)
		for {
			select {
			case <-deadline:
				t.Fatalf("the agent in %s never ended", pod.Name)
			case e, ok := <-events.ResultChan():
				if !ok {
					t.Fatalf("the watch of %s ended", pod.Name)
				}
				seen, isPod := e.Object.(*corev1.Pod)
				if !isPod {
					continue
				}
				for _, s := range seen.Status.ContainerStatuses {
					if s.State.Terminated != nil {
						what, when, _ := strings.Cut(s.State.Terminated.Message, " ")
						at, err := time.Parse(time.RFC3339Nano, when)
						g.Expect(err).NotTo(HaveOccurred(), "pod %s ended without its time: %+v\n%s", pod.Name, s.State.Terminated, nd.PodLog(pod.Namespace, pod.Name))
						return what, at
					}
				}
			}
		}
	}
}

// R2, R4, R7: suspending the agreement, the grant's term ending, or the domain's emergency stop
// ends a granted path on the node: a pod that was dialing the data service every 50 ms is
// refused, or stopped with the workspace's compute, within 2 s of the boundary.
func TestR2_R4_R7_SuspensionExpiryAndEmergencyStopCutTheGrantedPathOnTheNode(t *testing.T) {
	for _, tc := range []struct {
		name, domain string
		// term is the grant's; long enough for the prober to start when it is the boundary.
		term time.Duration
		cut  func(testing.TB, *world, *opv1.DataGrant) time.Time
	}{
		{"suspension", "cut1", time.Hour, func(t testing.TB, w *world, _ *opv1.DataGrant) time.Time {
			return written(t, func() error {
				patch := client.MergeFrom(w.developer.DeepCopy())
				w.developer.Spec.Suspension = &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk}
				return k8s.Patch(ctx, w.developer, patch)
			})()
		}},
		{"expiry", "cut2", 20 * time.Second, func(_ testing.TB, _ *world, grant *opv1.DataGrant) time.Time {
			end := grant.Spec.Term.End.Time
			time.Sleep(time.Until(end))
			return end
		}},
		{"emergency stop", "cut3", time.Hour, func(t testing.TB, w *world, _ *opv1.DataGrant) time.Time {
			return written(t, func() error {
				patch := client.MergeFrom(w.domain.DeepCopy())
				w.domain.Spec.EmergencyStop = opv1.EmergencyStop{Active: true, Reason: "drill"}
				return k8s.Patch(ctx, w.domain, patch)
			})()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, target := newGrantWorld(t, tc.domain)
			grant := openGrant(t, w, asReviewer(t), "congestion", tc.term)
			how, cut := probeCut(t, w, "prober", target, func() time.Time { return tc.cut(t, w, grant) })
			t.Logf("%s → the prober %s: %v", tc.name, how, cut.Round(time.Millisecond))
			NewWithT(t).Expect(cut).To(BeNumerically("<", 2*time.Second))
		})
	}
}

// R4: a stream opened while a grant was Active stops within 2 s of the reviewer's revocation.
// The enforcer lets established connections through (kube-network-policies examines a
// connection's first packet only; conntrack keeps the rest), so deleting the path's policies
// alone would leave it running: the operator ends the pods of the workspace that ran under the
// grant. A new connection is refused.
func TestR4_RevokingAGrantEndsAnEstablishedStream(t *testing.T) {
	g := NewWithT(t)
	w, target := newGrantWorld(t, "grant2", "stream", ":8080")
	review := asReviewer(t)
	grant := openGrant(t, w, review, "stream", time.Hour)
	// Connecting behind its fence, the stream runs under the grant.
	follower := node.RestrictedPod(w.workspaces["team-a"], "follower", "follow", target)
	follower.Spec.RestartPolicy = corev1.RestartPolicyNever
	running(t, follower)
	time.Sleep(time.Second)
	ended := watchTermination(t, follower)
	revoked := written(t, func() error { return revoke(review, grant) })()
	how, last := ended()
	outlived := last.Sub(revoked)
	t.Logf("the stream %s; its last line arrived %v after the revocation", how, outlived.Round(time.Millisecond))
	g.Expect(how).To(Equal("stopped"), "the stream ran until the revocation and its pod was ended")
	g.Expect(outlived).To(BeNumerically(">", -200*time.Millisecond), "the stream ran until the revocation (a line every 50 ms)")
	g.Expect(outlived).To(BeNumerically("<", 2*time.Second), "the stream outlived its grant")
	g.Expect(reaches(t, w.workspaces["team-a"], target)).To(BeFalse(), "a new connection is refused")
}
