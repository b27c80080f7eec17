package integration

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/workspace"
)

// thousand is a domain with 1,000 workspaces, built once, and what building it cost.
var thousand struct {
	w             *world
	readyAll      time.Duration
	writesPerWS   float64
	lastMember    authenticationv1.UserInfo
	lastNamespace string
}

const thousandWorkspaces = 1000

// BenchmarkThousandWorkspaces measures the scale a provincial domain reaches: 1,000 workspaces
// created at once until every one is Ready (ready-all-s), the writes each cost, counted by the
// API server (writes-per-ws), the peak resident memory of the process that runs the operator
// (peak-rss-MiB, the test process: the operator and the benchmark), and, each iteration, the
// emergency stop and an agreement's suspension until a member of the last workspace is denied.
func BenchmarkThousandWorkspaces(b *testing.B) {
	g := NewWithT(b)
	if thousand.w == nil {
		w := newWorld(b, "k1000", opv1.NetworkPolicyKubernetes, 365*24*time.Hour)
		before := quiet(b)
		start := time.Now()
		for i := 1; i < thousandWorkspaces; i++ {
			g.Expect(k8s.Create(ctx, &opv1.DeveloperWorkspace{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("k%04d", i), Namespace: w.control()},
				Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
			})).To(Succeed())
		}
		g.Eventually(func() int {
			var list opv1.DeveloperWorkspaceList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(w.control()))).To(Succeed())
			ready := 0
			for i := range list.Items {
				if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, opv1.ConditionReady) {
					ready++
				}
			}
			return ready
		}, 10*time.Minute, time.Second).Should(Equal(thousandWorkspaces))
		thousand.readyAll = time.Since(start)
		total, _ := writes(before, quiet(b))
		thousand.writesPerWS = (total - (thousandWorkspaces - 1)) / (thousandWorkspaces - 1)
		thousand.w = w
		thousand.lastMember = authenticationv1.UserInfo{Username: member}
		thousand.lastNamespace = workspace.NamespaceName(w.domain.Name, fmt.Sprintf("k%04d", thousandWorkspaces-1))
	}
	w := thousand.w
	denied := func() bool {
		return !can(b, thousand.lastMember, thousand.lastNamespace, "create", "batch", "jobs", "")
	}
	g.Expect(denied()).To(BeFalse())

	// cut times one boundary, from its write until the member is denied, then lifts it untimed.
	cut := func(set func(on bool)) time.Duration {
		start := time.Now()
		set(true)
		g.Eventually(denied, time.Minute, 2*time.Millisecond).Should(BeTrue())
		took := time.Since(start)
		b.StopTimer()
		set(false)
		g.Eventually(denied, 10*time.Minute, 50*time.Millisecond).Should(BeFalse())
		b.StartTimer()
		return took
	}
	var stop, suspension []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stop = append(stop, cut(func(on bool) { setEmergencyStop(b, w.domain, on) }))
		suspension = append(suspension, cut(func(on bool) {
			var s *opv1.Suspension
			if on {
				s = &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk}
			}
			setSuspension(b, w.developer, s)
		}))
	}
	b.StopTimer()
	b.ReportMetric(thousand.readyAll.Seconds(), "ready-all-s")
	b.ReportMetric(thousand.writesPerWS, "writes-per-ws")
	b.ReportMetric(peakRSS(b)/(1<<20), "peak-rss-MiB")
	report(b, "stop-denied", stop)
	report(b, "suspension-denied", suspension)
}

// peakRSS is this process's peak resident memory (VmHWM), in bytes.
func peakRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	NewWithT(b).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			NewWithT(b).Expect(err).NotTo(HaveOccurred())
			return kb * 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
