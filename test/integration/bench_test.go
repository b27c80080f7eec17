package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/controlplane"
)

// BenchmarkWorkspaceProvisioning measures one workspace from creation to Ready (namespace,
// policies in both renderings, quota, RBAC, a token-backed credential), and then from its
// agreement's suspension to the moment the member may no longer create a pod. It reports the
// median and 90th percentile of each, in milliseconds.
func BenchmarkWorkspaceProvisioning(b *testing.B) {
	g := NewWithT(b)
	benchRuns++
	w := newWorld(b, fmt.Sprintf("bench%d", benchRuns), opv1.NetworkPolicyBoth, 24*time.Hour)
	var ready, cut []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ws := &opv1.DeveloperWorkspace{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b%d", i), Namespace: w.control()},
			Spec:       opv1.DeveloperWorkspaceSpec{Authorization: "acme", Members: []string{member}},
		}
		start := time.Now()
		g.Expect(k8s.Create(ctx, ws)).To(Succeed())
		g.Eventually(func() string { return readyStatus(ws) }, timeout, 5*time.Millisecond).Should(Equal("True"))
		ready = append(ready, time.Since(start))
	}
	b.StopTimer()

	token, _ := memberToken(b, w)
	user := review(b, token)
	g.Expect(user).NotTo(BeNil())
	for i := 0; i < b.N; i++ {
		start := time.Now()
		setSuspension(b, w.developer, &opv1.Suspension{Reason: "SecurityRisk"})
		g.Eventually(func() bool { return can(b, *user, w.wsNamespace(), "create", "", "pods", "") }, timeout, 5*time.Millisecond).Should(BeFalse())
		cut = append(cut, time.Since(start))
		g.Eventually(func() opv1.WorkspacePhase {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)
			return w.ws.Status.Phase
		}, timeout, poll).Should(Equal(opv1.WorkspaceSuspended))
		setSuspension(b, w.developer, nil)
		waitReady(b, w.ws)
		token, _ = memberToken(b, w)
		user = review(b, token)
		g.Expect(user).NotTo(BeNil())
	}
	report(b, "ready", ready)
	report(b, "cut", cut)
}

// benchRuns names each run's domain apart: -count repeats a benchmark with the same b.N.
var benchRuns int

func report(b *testing.B, name string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(ds[len(ds)*9/10].Microseconds())/1000, name+"-p90-ms")
}

// stopWorld is a domain with 100 workspaces, built once for every run of the benchmark.
var stopWorld *world

// BenchmarkEmergencyStop100Workspaces measures R7's one action: from setting the domain's
// emergency stop to the moment a member's SubjectAccessReview in the last workspace is denied
// (denied: the gates are closed), and to the moment no member of any of its 100 workspaces
// holds a RoleBinding (cut; tokens are rejected ~10 s later, when the API server's token cache
// lapses). Each iteration then lifts the stop and waits for every workspace to be Ready again.
func BenchmarkEmergencyStop100Workspaces(b *testing.B) {
	g := NewWithT(b)
	w, bindings := hundredWorkspaces(b)
	last, lastNamespace := lastMember(w)
	g.Expect(can(b, last, lastNamespace, "create", "batch", "jobs", "")).To(BeTrue())

	var denied, cut []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		setEmergencyStop(b, w.domain, true)
		var memberDenied, bindingsGone time.Duration
		g.Eventually(func() bool {
			if memberDenied == 0 && !can(b, last, lastNamespace, "create", "batch", "jobs", "") {
				memberDenied = time.Since(start)
			}
			if bindingsGone == 0 && bindings() == 0 {
				bindingsGone = time.Since(start)
			}
			return memberDenied > 0 && bindingsGone > 0
		}, time.Minute, 2*time.Millisecond).Should(BeTrue())
		denied, cut = append(denied, memberDenied), append(cut, bindingsGone)

		b.StopTimer()
		setEmergencyStop(b, w.domain, false)
		g.Eventually(bindings, 5*time.Minute, 50*time.Millisecond).Should(Equal(stopWorkspaces))
		b.StartTimer()
	}
	report(b, "denied", denied)
	report(b, "cut", cut)
}

// stopWorkspaces is the size of the domain the cut benchmarks share.
const stopWorkspaces = 100

// hundredWorkspaces builds, once for every benchmark and run, a domain with 100 workspaces with
// one member each, and waits until every member holds a binding, which bindings counts.
func hundredWorkspaces(b *testing.B) (*world, func() int) {
	g := NewWithT(b)
	if stopWorld == nil {
		stopWorld = newWorld(b, "stop100", opv1.NetworkPolicyBoth, 365*24*time.Hour)
		for i := 1; i < stopWorkspaces; i++ {
			ws := &opv1.DeveloperWorkspace{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ws%03d", i), Namespace: stopWorld.control()},
				Spec:       opv1.DeveloperWorkspaceSpec{Authorization: "acme", Members: []string{member}},
			}
			g.Expect(k8s.Create(ctx, ws)).To(Succeed())
		}
	}
	w := stopWorld
	bindings := func() int {
		var list rbacv1.RoleBindingList
		g.Expect(k8s.List(ctx, &list, client.MatchingLabels{opv1.LabelDomain: w.domain.Name, opv1.LabelOwnerKind: "DeveloperWorkspace"})).To(Succeed())
		return len(list.Items)
	}
	g.Eventually(bindings, 5*time.Minute, 100*time.Millisecond).Should(Equal(stopWorkspaces))
	return w, bindings
}

// lastMember is the member of the last workspace made; every workspace has the same member, all
// bound through the same gate, so this one stands for them all.
func lastMember(w *world) (authenticationv1.UserInfo, string) {
	return authenticationv1.UserInfo{Username: member}, workspace.NamespaceName(w.domain.Name, fmt.Sprintf("ws%03d", stopWorkspaces-1))
}

// BenchmarkGrantPath measures R4's data path: from creating an approved grant to its policies
// and token being in place (Active), and from its agreement's suspension to the moment
// introspection first calls the token inactive (token-dead) and to the moment the grant's
// policies and token Secret are all gone (cut). It reports the median and 90th percentile of each.
func BenchmarkGrantPath(b *testing.B) {
	g := NewWithT(b)
	benchRuns++
	w := newGrantWorld(b, fmt.Sprintf("gbench%d", benchRuns), opv1.NetworkPolicyBoth)
	var open, dead, cut []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gr := w.grant(fmt.Sprintf("g%d", i))
		start := time.Now()
		g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
		g.Eventually(grantObjects(gr), timeout, 5*time.Millisecond).Should(HaveLen(5))
		open = append(open, time.Since(start))
		b.StopTimer()
		g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
		token := tokenOf(b, w, gr)
		g.Eventually(func() bool { return introspect(b, w, token, "").Active }, timeout, poll).Should(BeTrue())
		b.StartTimer()

		// Two loops, side by side, watch both ends of the cut: the token's introspection (fast to
		// ask) and the policies (several lists), so neither's resolution is the other's.
		hc, endpoint := introspectionClient(b, w)
		start = time.Now()
		setSuspension(b, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
		tokenDead := make(chan time.Duration, 1)
		go func() {
			for time.Since(start) < timeout {
				if answer, err := askIntrospection(hc, endpoint, token, ""); err == nil && !answer.Active {
					break
				}
				time.Sleep(time.Millisecond)
			}
			tokenDead <- time.Since(start)
		}()
		g.Eventually(grantObjects(gr), timeout, 2*time.Millisecond).Should(BeEmpty())
		cut = append(cut, time.Since(start))
		dead = append(dead, <-tokenDead)
		b.StopTimer()
		setSuspension(b, w.developer, nil)
		g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
		g.Expect(k8s.Delete(ctx, gr)).To(Succeed())
		g.Eventually(grantObjects(gr), timeout, poll).Should(BeEmpty())
		b.StartTimer()
	}
	b.StopTimer()
	report(b, "open", open)
	report(b, "token-dead", dead)
	report(b, "cut", cut)
}

// BenchmarkR8_RecordsPerSecond measures what the manager's audit receiver sustains: batches of
// 400 events (the API server's default batch size) on a domain's namespace, posted over the
// webhook server's TLS as the API server posts them, each attributed, chained and synced to
// disk before the answer. It reports records per second.
func BenchmarkR8_RecordsPerSecond(b *testing.B) {
	g := NewWithT(b)
	benchRuns++
	d := newDomain(b, fmt.Sprintf("recbench%d", benchRuns), opv1.NetworkPolicyKubernetes)
	const batch = 400
	var events []map[string]any
	for i := 0; i < batch; i++ {
		events = append(events, auditEvent(time.Now(), map[string]any{"resource": "configmaps", "namespace": d.Spec.ControlNamespace, "name": fmt.Sprintf("c%d", i)}))
	}
	body := auditBatch(b, events)
	post := newAuditPoster()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		g.Expect(post.send(body)).To(Equal(http.StatusOK))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "records/s")
	n, err := records.Open(recordsDir, nil).Verify(ctx, d.Name, records.Anchor{}, records.Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeNumerically(">=", b.N*batch))
}

// unaudited is a second control plane, started without audit, for BenchmarkR8_AuditOverhead;
// TestMain stops it.
var (
	unaudited      *controlplane.ControlPlane
	startUnaudited sync.Once
	unauditedErr   error
)

// BenchmarkR8_AuditOverhead measures what recording costs a request: the same request (create,
// read and delete a ConfigMap) against the suite's API server, which audits with the shipped
// policy and delivers to the manager in batches, and against a second one started without
// audit, one after the other in each iteration so that the machine's drift hits both alike. It
// reports each one's median and 90th percentile and the ratio of the medians.
func BenchmarkR8_AuditOverhead(b *testing.B) {
	g := NewWithT(b)
	startUnaudited.Do(func() {
		unaudited, unauditedErr = controlplane.Start(controllers.Scheme(), controlplane.WithoutOperatorInstall())
	})
	g.Expect(unauditedErr).NotTo(HaveOccurred())
	benchRuns++
	ns := fmt.Sprintf("auditbench%d", benchRuns)
	servers := []client.Client{k8s, unaudited.Client}
	for _, c := range servers {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
	request := func(c client.Client, i int) time.Duration {
		start := time.Now()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i), Namespace: ns}, Data: map[string]string{"k": "v"}}
		g.Expect(c.Create(ctx, cm)).To(Succeed())
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
		g.Expect(c.Delete(ctx, cm)).To(Succeed())
		return time.Since(start)
	}
	var on, off []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		on = append(on, request(k8s, i))
		off = append(off, request(unaudited.Client, i))
	}
	b.StopTimer()
	report(b, "audited", on)
	report(b, "unaudited", off)
	sort.Slice(on, func(i, j int) bool { return on[i] < on[j] })
	sort.Slice(off, func(i, j int) bool { return off[i] < off[j] })
	b.ReportMetric(float64(on[len(on)/2])/float64(off[len(off)/2]), "audited/unaudited-p50")
}

// BenchmarkR8_RecordsAPIPage measures reading records the way people do, through the API server
// (the records' API, forwarded to the manager): a page of 500 of a domain that holds 30 days of
// 4,000 records each, from the start, and from near the end (continue), where the days before
// the page are not read. It reports each page's median and 90th percentile.
func BenchmarkR8_RecordsAPIPage(b *testing.B) {
	g := NewWithT(b)
	benchRuns++
	d := newDomain(b, fmt.Sprintf("recpage%d", benchRuns), opv1.NetworkPolicyKubernetes)
	const days, perDay = 30, 4000
	first := time.Now().UTC().AddDate(0, 0, -days)
	for day := range days {
		recs := make([]records.Record, perDay)
		for i := range recs {
			recs[i] = records.Record{Time: first.AddDate(0, 0, day).Add(time.Duration(i) * time.Second), User: "bench", Verb: "get",
				Resource: "configmaps", Namespace: d.Spec.ControlNamespace, Name: fmt.Sprintf("c%d", i)}
		}
		g.Expect(records.Open(recordsDir, nil).Append(ctx, d.Name, recs)).To(Succeed())
	}
	cs, err := kubernetes.NewForConfig(cp.Config)
	g.Expect(err).NotTo(HaveOccurred())
	page := func(after string) time.Duration {
		start := time.Now()
		raw, err := cs.RESTClient().Get().AbsPath("/apis", records.APIGroup, records.APIVersion, records.APIResource, d.Name).
			Param("limit", "500").Param("continue", after).DoRaw(ctx)
		elapsed := time.Since(start)
		g.Expect(err).NotTo(HaveOccurred())
		var got records.OperationRecords
		g.Expect(json.Unmarshal(raw, &got)).To(Succeed())
		g.Expect(got.Records).To(HaveLen(500))
		return elapsed
	}
	var head, tail []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		head = append(head, page(""))
		tail = append(tail, page(fmt.Sprint(days*perDay-1000)))
	}
	b.StopTimer()
	report(b, "first-page", head)
	report(b, "last-days-page", tail)
}
