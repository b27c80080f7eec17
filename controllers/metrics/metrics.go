// Package metrics is what opdomain adds to the manager's metrics: how long access outlives the
// boundary that ends it, measured where the operator cuts.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The boundaries the cut histogram tells apart.
const (
	BoundarySuspension    = "suspension"
	BoundaryTermination   = "termination"
	BoundaryPhase         = "phase"
	BoundaryTermEnd       = "term-end"
	BoundaryEmergencyStop = "emergency-stop"
	// BoundaryParent is any of the above of an agreement's parent, for the agreement.
	BoundaryParent = "parent"
)

// The boundaries the grant cut histogram tells apart: a change of the grant itself (review
// withdrawn, deletion), of what its phase depends on (its agreement, workspace, resources,
// domain), or its term's end.
const (
	BoundaryGrant       = "grant"
	BoundaryAgreement   = "agreement"
	BoundaryWorkspace   = "workspace"
	BoundaryResource    = "resource"
	BoundaryDomain      = "domain"
	BoundaryGrantExpiry = "grant-expiry"
)

// AccessCut is the time from a boundary to the cut of members' rights: every gate of the
// agreement closed (an emergency stop: every gate of the domain). A boundary written to the API
// server counts from the moment the operator's watch delivered it (the operator cannot know the
// write's own instant more precisely); a term's end counts from the end itself.
var AccessCut = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "opdomain_access_cut_seconds",
	Help:    "Seconds from a boundary (suspension, termination, phase change, term end, emergency stop, the parent's) to every member gate closed.",
	Buckets: cutBuckets,
}, []string{"boundary"})

// TeardownStep is how long each step of a workspace's teardown took, from the step before it
// (the first from the teardown's start) to its completion, waiting included (pods to go, volumes
// to be destroyed), on the operator's clock.
var TeardownStep = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "opdomain_teardown_step_seconds",
	Help:    "Seconds each step of a workspace's teardown took, from the step before it (or the start) to its completion.",
	Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800},
}, []string{"step"})

// GrantCut is the time from a boundary to the cut of a grant's paths: its policies deleted and
// the pods that used them ended. A change counts from the moment the operator's watch delivered
// it; a term's end from the end itself. Its token dies sooner: introspection re-evaluates the
// grant on every use, on the cache the watch has just updated.
var GrantCut = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "opdomain_grant_cut_seconds",
	Help:    "Seconds from a boundary (a change of the grant, its agreement, workspace, resources or domain; its expiry) to every path of the grant closed.",
	Buckets: cutBuckets,
}, []string{"boundary"})

// cutBuckets are the cut histograms' buckets: the alert is at a second.
var cutBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// histograms are the histograms the manager exports.
var histograms = []*prometheus.HistogramVec{AccessCut, GrantCut, TeardownStep}

func init() {
	for _, h := range histograms {
		ctrlmetrics.Registry.MustRegister(h)
	}
}

// Seen keeps, per object, the first boundary the operator's watch delivered and when, until the
// cut it causes is observed into its histogram or the object turns out open after all.
type Seen struct {
	histogram *prometheus.HistogramVec
	mu        sync.Mutex
	seen      map[string]seen
}

type seen struct {
	boundary string
	at       time.Time
}

// Boundaries is the process's record of boundaries seen and not yet cut, of agreements and
// domains (members' gates); GrantBoundaries of grants (their paths).
var (
	Boundaries      = &Seen{histogram: AccessCut}
	GrantBoundaries = &Seen{histogram: GrantCut}
)

// Note records that key crossed boundary now, unless an earlier boundary awaits its cut.
func (s *Seen) Note(key, boundary string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]seen{}
	}
	if _, ok := s.seen[key]; !ok {
		s.seen[key] = seen{boundary: boundary, at: time.Now()}
	}
}

// Cut observes the time from key's boundary to now, if one was seen, and forgets it; it says
// whether one was.
func (s *Seen) Cut(key string) bool {
	s.mu.Lock()
	b, ok := s.seen[key]
	delete(s.seen, key)
	s.mu.Unlock()
	if ok {
		s.histogram.WithLabelValues(b.boundary).Observe(time.Since(b.at).Seconds())
	}
	return ok
}

// Forget drops key's boundary: what was seen did not close access.
func (s *Seen) Forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, key)
}
