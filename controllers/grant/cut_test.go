package grant

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/metrics"
)

// R3: a grant's cut is measured once, when a reconcile closes its open paths: from its expiry
// when that closed it (on the operator's clock), else from the change the watch delivered; a
// grant that stays open, or was closed already, adds nothing.
func TestR3_AGrantsCutIsMeasuredFromWhatClosedIt(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	grant := func(name string, phase opv1.GrantPhase, expires time.Time) *opv1.DataGrant {
		g := &opv1.DataGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "cut", Name: name}}
		g.Status.Phase, g.Status.ExpiresAt = phase, &metav1.Time{Time: expires}
		return g
	}
	for _, c := range []struct {
		name     string
		grant    *opv1.DataGrant
		noted    string
		open     bool
		boundary string
		at       float64
	}{
		{name: "expired", grant: grant("expired", opv1.GrantActive, now.Add(-3*time.Second)), noted: metrics.BoundaryAgreement,
			boundary: metrics.BoundaryGrantExpiry, at: 3},
		{name: "closed by a change", grant: grant("changed", opv1.GrantActive, now.Add(time.Hour)), noted: metrics.BoundaryWorkspace,
			boundary: metrics.BoundaryWorkspace},
		{name: "still open", grant: grant("open", opv1.GrantActive, now.Add(time.Hour)), noted: metrics.BoundaryResource, open: true},
		{name: "closed before", grant: grant("before", opv1.GrantSuspended, now.Add(-time.Hour)), noted: metrics.BoundaryDomain},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			before := map[string]histogram{}
			for _, b := range []string{c.noted, metrics.BoundaryGrantExpiry} {
				before[b] = sampleOf(g, b)
			}
			metrics.GrantBoundaries.Note(cutKey(c.grant), c.noted)
			observeCut(c.grant, c.grant.DeepCopy(), c.open, now)
			for b, was := range before {
				got := sampleOf(g, b)
				if b != c.boundary {
					g.Expect(got).To(Equal(was), "nothing observed for %s", b)
					continue
				}
				g.Expect(got.count).To(Equal(was.count + 1))
				if c.at > 0 {
					g.Expect(got.sum - was.sum).To(BeNumerically("~", c.at, 0.001))
				}
			}
			g.Expect(metrics.GrantBoundaries.Cut(cutKey(c.grant))).To(BeFalse(), "the note is gone either way")
		})
	}
}

type histogram struct {
	count uint64
	sum   float64
}

// sampleOf is the grant cut histogram's count and sum for boundary.
func sampleOf(g Gomega, boundary string) histogram {
	var m dto.Metric
	g.Expect(metrics.GrantCut.WithLabelValues(boundary).(interface{ Write(*dto.Metric) error }).Write(&m)).To(Succeed())
	return histogram{count: m.GetHistogram().GetSampleCount(), sum: m.GetHistogram().GetSampleSum()}
}
