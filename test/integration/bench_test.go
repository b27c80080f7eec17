package integration

import (
	"fmt"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
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
