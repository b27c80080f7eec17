package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opdomain/opdomain/test/node"
)

// BenchmarkNewPodFirstDial measures what the fence (controllers/fence) closes: an enforcer
// examines a pod's packets only once the pod's address has reached it through the API, so a new
// workspace pod that dials a host outside the cluster at once got through without the fence. It
// reports the share of new workspace pods whose immediate dial escaped (which must be 0).
func BenchmarkNewPodFirstDial(b *testing.B) {
	w := newWorld(b, "bench1", "team-a")
	escaped := 0
	for b.Loop() {
		reached, err := nd.Dial(ctx, w.workspaces["team-a"], node.OutsideAddr)
		if err != nil {
			b.Fatal(err)
		}
		if reached {
			escaped++
		}
	}
	b.ReportMetric(float64(escaped)/float64(b.N), "escaped/pod")
}

// BenchmarkGrantRevokedToRefused measures, on the node, how long after a reviewer's revocation
// is sent a workspace pod that was reaching the granted service has its first dial fail.
func BenchmarkGrantRevokedToRefused(b *testing.B) {
	w, target := newGrantWorld(b, "bench2")
	review := asReviewer(b)
	var cuts []time.Duration
	i := 0
	for b.Loop() {
		i++
		cuts = append(cuts, grantCut(b, w, review, target, fmt.Sprintf("cut%d", i), func() {}))
	}
	slices.Sort(cuts)
	b.ReportMetric(float64(cuts[len(cuts)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(cuts[len(cuts)-1].Milliseconds()), "max-ms")
}

// BenchmarkPodStart measures what the fence costs a workspace pod: the time from its creation to
// Running, in a workspace (behind the fence) and in the data zone (no fence), on the same node.
func BenchmarkPodStart(b *testing.B) {
	w := newWorld(b, "bench3", "team-a")
	for _, tc := range []struct{ name, namespace string }{
		{"workspace", w.workspaces["team-a"]}, {"data-zone", w.domain.Spec.DataZoneNamespace},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				pod := node.RestrictedPod(tc.namespace, fmt.Sprintf("start-%d", len(took)), "pause")
				began := time.Now()
				running(b, pod)
				took = append(took, time.Since(began))
				if err := k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
		})
	}
}
