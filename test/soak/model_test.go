package soak

import (
	"context"
	"sort"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// model is what the churn has asked for, and since when: from it follows, for every member of
// every workspace, whether the API server must deny them, and since which boundary.
type model struct {
	mu          sync.Mutex
	agreements  map[string]*agreement
	workspaces  map[string]*workspace
	operatorCut time.Time // the Operator agreement's suspension; zero while in force
	stopCut     time.Time // the domain's emergency stop; zero while lifted
	episodes    []*episode
	reopened    []string
}

type agreement struct {
	name, member, creditCode  string
	uid                       string
	suspendedAt, terminatedAt time.Time
}

type workspace struct {
	name, agreement, namespace, member string
	uid                                string
	createdAt, deletedAt               time.Time
	cut                                *episode // the cut in force, nil while the member may act
}

// episode is one span during which a member must be denied: from the boundary (when the churn
// sent the write that ends access) until the churn lifts it again.
type episode struct {
	ws       *workspace
	boundary time.Time
	// deniedAt is when the first denial came back; zero while the member was still allowed.
	deniedAt time.Time
	// liftedAt is when the churn started to lift the cut; zero while in force.
	liftedAt    time.Time
	lastSampled time.Time
}

func newModel() *model {
	return &model{agreements: map[string]*agreement{}, workspaces: map[string]*workspace{}}
}

// change applies f to the model and brings every workspace's cut in line with it: a cut starts
// at the earliest boundary in force (or at the workspace's creation, if later) and ends when
// nothing cuts any more.
func (m *model) change(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
	now := time.Now()
	for _, ws := range m.workspaces {
		since := m.cutSince(ws)
		switch {
		case since.IsZero() && ws.cut != nil:
			ws.cut.liftedAt = now
			ws.cut = nil
		case !since.IsZero() && ws.cut == nil:
			if since.Before(ws.createdAt) {
				since = ws.createdAt
			}
			ws.cut = &episode{ws: ws, boundary: since}
			m.episodes = append(m.episodes, ws.cut)
		}
	}
}

func (m *model) cutSince(ws *workspace) time.Time {
	a := m.agreements[ws.agreement]
	var since time.Time
	for _, t := range []time.Time{ws.deletedAt, a.suspendedAt, a.terminatedAt, m.operatorCut, m.stopCut} {
		if !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	return since
}

// ended says whether a workspace's member must stay denied for good: the workspace or its
// agreement is gone.
func (m *model) ended(ws *workspace) bool {
	return !ws.deletedAt.IsZero() || !m.agreements[ws.agreement].terminatedAt.IsZero()
}

// undenied counts the cuts in force whose member has not been seen denied yet.
func (m *model) undenied() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ws := range m.workspaces {
		if ws.cut != nil && ws.cut.deniedAt.IsZero() {
			n++
		}
	}
	return n
}

// sample asks the API server, as every member still to be cut, whether they may create Jobs in
// their workspace (a right of every visibility), until the first denial; it then keeps asking
// now and then, to catch a cut that reopens while it should hold. A sample whose cut was lifted
// while it was in flight says nothing and is dropped.
func (m *model) sample(ctx context.Context, c client.Client) {
	const (
		hotEvery  = 10 * time.Millisecond
		coldEvery = 500 * time.Millisecond
		// A cut of a workspace that is gone is watched this long after its first denial.
		watchEnded = 10 * time.Second
		parallel   = 8
	)
	for ctx.Err() == nil {
		now := time.Now()
		var due []*episode
		m.mu.Lock()
		for _, ws := range m.workspaces {
			e := ws.cut
			if e == nil {
				continue
			}
			hot := e.deniedAt.IsZero()
			cold := !hot && now.Sub(e.lastSampled) >= coldEvery && (!m.ended(ws) || now.Sub(e.deniedAt) < watchEnded)
			if hot || cold {
				e.lastSampled = now
				due = append(due, e)
			}
		}
		m.mu.Unlock()
		work := make(chan *episode)
		var wg sync.WaitGroup
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for e := range work {
					m.probe(c, e)
				}
			}()
		}
		for _, e := range due {
			work <- e
		}
		close(work)
		wg.Wait()
		time.Sleep(hotEvery)
	}
}

func (m *model) probe(c client.Client, e *episode) {
	// Not cancelled with the soak: a probe in flight then finishes, and is not logged as broken.
	allowed, err := memberMay(context.Background(), c, e.ws)
	if err != nil {
		return // the API server was busy: sampled again next round
	}
	answered := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !e.liftedAt.IsZero() {
		return
	}
	switch {
	case !allowed && e.deniedAt.IsZero():
		e.deniedAt = answered
	case allowed && !e.deniedAt.IsZero():
		m.reopened = append(m.reopened, e.ws.member+" in "+e.ws.namespace+" at "+answered.Format(time.RFC3339Nano)+
			", denied since "+e.deniedAt.Format(time.RFC3339Nano))
	}
}

// memberMay asks the API server whether the workspace's member may create Jobs there, a right
// of every visibility.
func memberMay(ctx context.Context, c client.Client, ws *workspace) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               ws.member,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ws.namespace, Verb: "create", Group: "batch", Resource: "jobs"},
	}}
	err := c.Create(ctx, sar)
	return sar.Status.Allowed, err
}

// distribution summarizes durations: count, p50, p99 and max.
type distribution struct {
	n               int
	p50, p99, worst time.Duration
}

func distributionOf(ds []time.Duration) distribution {
	if len(ds) == 0 {
		return distribution{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1)+0.5)] }
	return distribution{n: len(ds), p50: at(0.5), p99: at(0.99), worst: ds[len(ds)-1]}
}
