package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opdomain/opdomain/test/node"
)

// BenchmarkNewPodFirstDial measures a known gap of the enforcer: a pod's packets are examined
// only once its IP has reached the enforcer through the API, so a new workspace pod that dials a
// host outside the cluster at once may get through. It reports the share of new pods whose
// immediate dial escaped, and of those that waited enforcerLag (which must stay 0).
func BenchmarkNewPodFirstDial(b *testing.B) {
	w := newWorld(b, "bench1", "team-a")
	ns := w.workspaces["team-a"]
	for _, tc := range []struct {
		name  string
		after time.Duration
	}{{"at-once", 0}, {"after-lag", enforcerLag}} {
		b.Run(tc.name, func(b *testing.B) {
			escaped := 0
			for b.Loop() {
				reached, err := nd.Dial(ctx, ns, node.OutsideAddr, tc.after)
				if err != nil {
					b.Fatal(err)
				}
				if reached {
					escaped++
				}
			}
			b.ReportMetric(float64(escaped)/float64(b.N), "escaped/pod")
		})
	}
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
