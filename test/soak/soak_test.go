// Package soak churns agreements and workspaces against a real control plane while the manager,
// run as its own process, is killed and restarted every few seconds. It samples every member's
// authorization from the API server against what the churn asked for, and at the end checks
// that nothing is stuck, every ending left exactly one record and the evidence verifies. It
// runs for OPDOMAIN_SOAK (a Go duration: `make test` one minute, `make soak` ten) and is
// skipped when that is unset.
package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/evidence"
	wscontroller "github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/fixtures"
)

const (
	domainName             = "soak"
	control                = domainName + "-control"
	operatorAgreement      = "operator"
	agreementsAtOnce       = 10
	workspacesPerAgreement = 10
)

// R2, R6, R7: under churn of agreements and workspaces, with the manager killed every few
// seconds, no member keeps access past the boundary that ends it for longer than a restart, no
// cut reopens while it should hold, and every ending leaves exactly one record in an intact
// chain.
func TestR2_R6_AccessEndsAtEveryBoundaryUnderChurnAndRestarts(t *testing.T) {
	length := os.Getenv("OPDOMAIN_SOAK")
	if length == "" {
		t.Skip("OPDOMAIN_SOAK is unset: `make soak`, or OPDOMAIN_SOAK=1m")
	}
	churnFor, err := time.ParseDuration(length)
	if err != nil {
		t.Fatalf("OPDOMAIN_SOAK: %v", err)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	cp, err := controlplane.Start(controllers.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	mgr, err := newManager(cp, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.kill)

	s := &soak{t: t, c: cp.Client, mgr: mgr, m: newModel(), began: time.Now().Truncate(time.Second), killNow: make(chan struct{}, 1)}
	s.setUp()
	sampling, stopSampling := context.WithCancel(context.Background())
	killing, stopKilling := context.WithCancel(context.Background())
	sampled, restarted := make(chan struct{}), make(chan struct{})
	go func() { defer close(sampled); s.m.sample(sampling, s.c) }()
	go func() { defer close(restarted); s.restartEveryFewSeconds(killing) }()
	actions := s.churn(time.Now().Add(churnFor))
	stopKilling()
	<-restarted
	if !mgr.running() {
		if err := mgr.start(); err != nil {
			t.Fatal(err)
		}
	}
	// The last cuts are sampled to their first denial before the sampler stops.
	NewWithT(t).Eventually(s.m.undenied, time.Minute, 100*time.Millisecond).Should(BeZero(), "cuts still not seen denied")
	stopSampling()
	<-sampled
	s.settle()
	s.report(actions)
}

type soak struct {
	t       *testing.T
	c       client.Client
	mgr     *manager
	m       *model
	killNow chan struct{}
	began   time.Time
	// replacements and extras count replacement agreements and added workspaces, for their names.
	replacements, extras int
}

// setUp makes the domain, its Operator agreement and the developer agreements with their
// workspaces, and waits until every workspace is Ready.
func (s *soak) setUp() {
	g := NewWithT(s.t)
	d := fixtures.Domain(domainName, opv1.NetworkPolicyKubernetes, "registry.example")
	g.Expect(s.c.Create(context.Background(), d)).To(Succeed())
	g.Eventually(func() string { return fixtures.ReadyStatus(context.Background(), s.c, d) }, time.Minute, 100*time.Millisecond).Should(Equal("True"))
	g.Expect(s.c.Create(context.Background(), s.agreementObject(operatorAgreement, "", "wang@operator.example", "91320100MA1CPRAT0P"))).To(Succeed())
	for i := range agreementsAtOnce {
		a := &agreement{name: fmt.Sprintf("dev%02d", i), member: fmt.Sprintf("dev%02d@soak.example", i), creditCode: creditCode(fmt.Sprintf("91320100%09d", i))}
		g.Expect(s.addAgreement(a)).To(Succeed())
	}
	g.Eventually(func() []string {
		var off []string
		for _, ws := range s.m.workspaces {
			obj := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: ws.name, Namespace: control}}
			if r := fixtures.ReadyStatus(context.Background(), s.c, obj); r != "True" {
				off = append(off, ws.name+": "+r)
			}
		}
		return off
	}, 3*time.Minute, time.Second).Should(BeEmpty(), "workspaces not Ready after set-up")
}

func (s *soak) agreementObject(name, parent, user, creditCode string) *opv1.Authorization {
	// Every developer term lies within the Operator's, as admission requires.
	role, margin := opv1.RoleDeveloper, time.Duration(0)
	if parent == "" {
		role, margin = opv1.RoleOperator, time.Hour
	}
	d := &opv1.OperationDomain{Spec: opv1.OperationDomainSpec{ControlNamespace: control}}
	return fixtures.Agreement(d, name, role, parent, s.began.Add(-time.Hour-margin), s.began.Add(30*24*time.Hour+margin), creditCode,
		fixtures.Trained("Member "+name, user, s.began))
}

// addAgreement makes a developer agreement, waits until it is in force, and gives it its
// workspaces.
func (s *soak) addAgreement(a *agreement) error {
	obj := s.agreementObject(a.name, operatorAgreement, a.member, a.creditCode)
	if _, err := s.write(func() error { return s.c.Create(context.Background(), obj) }); err != nil {
		return err
	}
	a.uid = string(obj.UID)
	s.m.change(func() { s.m.agreements[a.name] = a })
	// In force, or suspended with its parent: either way it takes workspaces.
	deadline := time.Now().Add(time.Minute)
	for obj.Status.Phase != opv1.PhaseActive && obj.Status.Phase != opv1.PhaseSuspended {
		if time.Now().After(deadline) {
			return fmt.Errorf("agreement %s is %q a minute after it was made", a.name, obj.Status.Phase)
		}
		time.Sleep(50 * time.Millisecond)
		_ = s.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	}
	for i := range workspacesPerAgreement {
		if err := s.addWorkspace(a, fmt.Sprintf("%s-w%02d", a.name, i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *soak) addWorkspace(a *agreement, name string) error {
	obj := &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: control},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: a.name, Members: []string{a.member}},
	}
	sent, err := s.write(func() error {
		err := s.c.Create(context.Background(), obj)
		if apierrors.IsAlreadyExists(err) { // an earlier attempt was stored after all
			return s.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		}
		return err
	})
	if err != nil {
		return err
	}
	ws := &workspace{name: name, agreement: a.name, namespace: wscontroller.NamespaceName(domainName, name), member: a.member, uid: string(obj.UID), createdAt: sent}
	s.m.change(func() { s.m.workspaces[name] = ws })
	return nil
}

// write sends a write until the API server takes it and returns when the accepted attempt was
// sent. While the manager is down its webhook refuses every write to opdomain's kinds, as it
// should (fail closed): those refusals are retried, a refusal on the merits is returned.
func (s *soak) write(send func() error) (time.Time, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sent := time.Now()
		err := send()
		if err == nil {
			return sent, nil
		}
		transient := apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
			apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsConflict(err)
		if !transient || time.Now().After(deadline) {
			return time.Time{}, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *soak) patch(obj client.Object, patch string) (time.Time, error) {
	return s.write(func() error {
		return s.c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(patch)))
	})
}

// restartEveryFewSeconds kills the manager every 2 to 6 s, or at once when the churn has just
// cut something, and starts it again.
func (s *soak) restartEveryFewSeconds(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2*time.Second + rand.N(4*time.Second)):
		case <-s.killNow:
		}
		s.mgr.kill()
		if err := s.mgr.start(); err != nil {
			s.t.Error(err)
			return
		}
	}
}

// cut records a boundary the churn has just crossed, and a third of the time kills the manager
// right after it, before it could act on it.
func (s *soak) cut(apply func()) {
	s.m.change(apply)
	if rand.N(3) == 0 {
		select {
		case s.killNow <- struct{}{}:
		default:
		}
	}
}

// churn acts every 1 to 3 s until the deadline and returns how many times each action ran.
func (s *soak) churn(until time.Time) map[string]int {
	done := map[string]int{}
	for time.Now().Before(until) {
		time.Sleep(time.Second + rand.N(2*time.Second))
		name, act := s.pick()
		if err := act(); err != nil {
			s.t.Errorf("%s: %v", name, err)
			continue
		}
		done[name]++
	}
	return done
}

// pick chooses what to do next among what the model allows.
func (s *soak) pick() (string, func() error) {
	s.m.mu.Lock()
	var inForce, suspended []*agreement
	for _, a := range s.m.agreements {
		switch {
		case !a.terminatedAt.IsZero():
		case a.suspendedAt.IsZero():
			inForce = append(inForce, a)
		default:
			suspended = append(suspended, a)
		}
	}
	var live []*workspace
	for _, ws := range s.m.workspaces {
		if !s.m.ended(ws) {
			live = append(live, ws)
		}
	}
	operatorCut, stopCut := !s.m.operatorCut.IsZero(), !s.m.stopCut.IsZero()
	s.m.mu.Unlock()

	type choice struct {
		name   string
		weight int
		act    func() error
	}
	var choices []choice
	add := func(name string, weight int, act func() error) { choices = append(choices, choice{name, weight, act}) }
	if len(inForce) > 0 {
		a := inForce[rand.N(len(inForce))]
		add("suspend an agreement", 3, func() error { return s.suspend(a) })
		add("create a workspace", 2, func() error {
			s.extras++
			return s.addWorkspace(a, fmt.Sprintf("%s-x%d", a.name, s.extras))
		})
	}
	if len(suspended) > 0 {
		a := suspended[rand.N(len(suspended))]
		add("lift a suspension", 3, func() error { return s.lift(a) })
	}
	if all := slices.Concat(inForce, suspended); len(all) > 0 {
		a := all[rand.N(len(all))]
		add("terminate and replace an agreement", 1, func() error { return s.terminateAndReplace(a) })
	}
	if len(live) > 0 {
		ws := live[rand.N(len(live))]
		add("delete a workspace", 2, func() error { return s.deleteWorkspace(ws) })
	}
	if operatorCut {
		add("lift the Operator agreement's suspension", 1, func() error { return s.setOperatorSuspension(false) })
	} else {
		add("suspend the Operator agreement", 1, func() error { return s.setOperatorSuspension(true) })
	}
	if stopCut {
		add("lift the emergency stop", 1, func() error { return s.setEmergencyStop(false) })
	} else {
		add("emergency stop", 1, func() error { return s.setEmergencyStop(true) })
	}
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := rand.N(total)
	for _, c := range choices {
		if n < c.weight {
			return c.name, c.act
		}
		n -= c.weight
	}
	panic("unreachable: n < total")
}

func agreementRef(name string) *opv1.Authorization {
	return &opv1.Authorization{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: control}}
}

const suspendPatch = `{"spec":{"suspension":{"reason":"SecurityRisk"}}}`
const liftPatch = `{"spec":{"suspension":null}}`

func (s *soak) suspend(a *agreement) error {
	sent, err := s.patch(agreementRef(a.name), suspendPatch)
	if err != nil {
		return err
	}
	s.cut(func() { a.suspendedAt = sent })
	return nil
}

// lift marks the cut lifted before it sends the write: from then on a member may be let in.
func (s *soak) lift(a *agreement) error {
	s.m.change(func() { a.suspendedAt = time.Time{} })
	_, err := s.patch(agreementRef(a.name), liftPatch)
	return err
}

func (s *soak) terminateAndReplace(a *agreement) error {
	sent, err := s.patch(agreementRef(a.name), `{"spec":{"termination":{"reason":"VoluntaryRequest"}}}`)
	if err != nil {
		return err
	}
	s.cut(func() { a.terminatedAt = sent })
	s.replacements++
	return s.addAgreement(&agreement{name: fmt.Sprintf("%s-r%d", a.name, s.replacements), member: a.member, creditCode: a.creditCode})
}

func (s *soak) deleteWorkspace(ws *workspace) error {
	obj := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: ws.name, Namespace: control}}
	sent, err := s.write(func() error { return client.IgnoreNotFound(s.c.Delete(context.Background(), obj)) })
	if err != nil {
		return err
	}
	s.cut(func() { ws.deletedAt = sent })
	return nil
}

func (s *soak) setOperatorSuspension(on bool) error {
	if !on {
		s.m.change(func() { s.m.operatorCut = time.Time{} })
		_, err := s.patch(agreementRef(operatorAgreement), liftPatch)
		return err
	}
	sent, err := s.patch(agreementRef(operatorAgreement), suspendPatch)
	if err != nil {
		return err
	}
	s.cut(func() { s.m.operatorCut = sent })
	return nil
}

func (s *soak) setEmergencyStop(on bool) error {
	d := &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: domainName}}
	patch := fmt.Sprintf(`{"spec":{"emergencyStop":{"active":%t,"reason":"soak drill"}}}`, on)
	if !on {
		s.m.change(func() { s.m.stopCut = time.Time{} })
		_, err := s.patch(d, patch)
		return err
	}
	sent, err := s.patch(d, patch)
	if err != nil {
		return err
	}
	s.cut(func() { s.m.stopCut = sent })
	return nil
}

// settle lifts the domain-wide cuts, waits until everything stands where the model says, and
// checks that it does: phases, every member's authorization, one record per ending, the chain.
func (s *soak) settle() {
	g := NewWithT(s.t)
	g.Expect(s.setOperatorSuspension(false)).To(Succeed())
	g.Expect(s.setEmergencyStop(false)).To(Succeed())
	g.Eventually(s.misplaced, 3*time.Minute, time.Second).Should(BeEmpty(), "not where the churn left it")
	g.Expect(s.m.reopened).To(BeEmpty(), "cuts that reopened while they should hold")
	problems, n, err := evidence.VerifyDomain(context.Background(), s.c, domainName)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(problems).To(BeEmpty(), "the evidence chain of %d records", n)
}

// misplaced lists what is not yet where the model says: workspace and agreement phases, members
// allowed or denied, and records (exactly one per ending, none for what lives).
func (s *soak) misplaced() []string {
	ctx := context.Background()
	var off []string
	var wss opv1.DeveloperWorkspaceList
	var agreements opv1.AuthorizationList
	var records opv1.TeardownRecordList
	for _, l := range []client.ObjectList{&wss, &agreements, &records} {
		if err := s.c.List(ctx, l, client.InNamespace(control)); err != nil {
			return []string{err.Error()}
		}
	}
	recordsOf := map[string]int{}
	for _, r := range records.Items {
		recordsOf[r.Spec.Subject.UID]++
	}
	phaseOf := map[string]opv1.WorkspacePhase{}
	for _, ws := range wss.Items {
		phaseOf[ws.Name] = ws.Status.Phase
	}
	agreementPhase := map[string]opv1.AuthorizationPhase{}
	for _, a := range agreements.Items {
		agreementPhase[a.Name] = a.Status.Phase
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	expectRecords := func(what, uid string, n int) {
		if got := recordsOf[uid]; got != n {
			off = append(off, fmt.Sprintf("%s has %d TeardownRecords, not %d", what, got, n))
		}
		delete(recordsOf, uid)
	}
	for _, a := range s.m.agreements {
		want, records := opv1.PhaseActive, 0
		switch {
		case !a.terminatedAt.IsZero():
			want, records = opv1.PhaseTerminated, 1
		case !a.suspendedAt.IsZero():
			want = opv1.PhaseSuspended
		}
		if got := agreementPhase[a.name]; got != want {
			off = append(off, fmt.Sprintf("agreement %s is %q, not %q", a.name, got, want))
		}
		expectRecords("agreement "+a.name, a.uid, records)
	}
	for _, ws := range s.m.workspaces {
		a := s.m.agreements[ws.agreement]
		got, exists := phaseOf[ws.name]
		want, allowed := opv1.WorkspaceReady, true
		switch {
		case !ws.deletedAt.IsZero():
			if exists {
				off = append(off, fmt.Sprintf("workspace %s is still there (%q) after its deletion", ws.name, got))
			}
			want, allowed = got, false
		case !a.terminatedAt.IsZero():
			want, allowed = opv1.WorkspaceTornDown, false
		case !a.suspendedAt.IsZero():
			want, allowed = opv1.WorkspaceSuspended, false
		}
		if got != want {
			off = append(off, fmt.Sprintf("workspace %s is %q, not %q", ws.name, got, want))
		}
		if may, err := memberMay(ctx, s.c, ws); err != nil || may != allowed {
			off = append(off, fmt.Sprintf("the member of workspace %s may act: %t, not %t (%v)", ws.name, may, allowed, err))
		}
		records := 0
		if s.m.ended(ws) {
			records = 1
		}
		expectRecords("workspace "+ws.name, ws.uid, records)
	}
	for uid, n := range recordsOf {
		off = append(off, fmt.Sprintf("%d TeardownRecords of %s, which did not end", n, uid))
	}
	return off
}

// report logs how long access outlived each boundary, apart for the cuts during which the
// manager was killed, and how long a start took.
func (s *soak) report(actions map[string]int) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	var up, restarted, afterStart, liftedFirst []time.Duration
	for _, e := range s.m.episodes {
		run := s.mgr.startedBefore(e.deniedAt)
		switch {
		case e.deniedAt.IsZero() && !e.liftedAt.IsZero():
			liftedFirst = append(liftedFirst, e.liftedAt.Sub(e.boundary))
		case e.deniedAt.IsZero():
			s.t.Errorf("the member of %s was never denied after the boundary at %s", e.ws.name, e.boundary.Format(time.RFC3339Nano))
		case s.mgr.killedBetween(e.boundary, run):
			// Denied by a manager started after the boundary (a denial seen while the next one
			// was not started yet was the killed one's work, and counts with the manager up).
			restarted = append(restarted, e.deniedAt.Sub(e.boundary))
			afterStart = append(afterStart, e.deniedAt.Sub(run))
		default:
			up = append(up, e.deniedAt.Sub(e.boundary))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "churn: %v\n", actions)
	line := func(what string, d distribution) {
		fmt.Fprintf(&b, "%-52s n=%-5d p50=%-10v p99=%-10v max=%v\n", what, d.n, d.p50.Round(time.Millisecond), d.p99.Round(time.Millisecond), d.worst.Round(time.Millisecond))
	}
	line("access outlived a boundary, manager up", distributionOf(up))
	line("access outlived a boundary, manager killed meanwhile", distributionOf(restarted))
	line("  of which after the restarted manager started", distributionOf(afterStart))
	line("cut lifted before the first denial (lower bound)", distributionOf(liftedFirst))
	line("manager start to ready (webhook serving)", distributionOf(s.mgr.startupTimes()))
	gateStarts, err := s.mgr.gateStarts()
	if err != nil {
		s.t.Error(err)
	}
	line("manager start to its gate controller's workers", distributionOf(gateStarts))
	s.t.Log("\n" + b.String())
	// With the manager up, access outlives a boundary by at most a second (p99), the issue's
	// goal; after a restart the cut waits for the new manager's caches, which take a few hundred
	// milliseconds here, so it must land within 2 s of the start. Before the gates, the same
	// churn saw 14 s with the manager up and 72 s across restarts.
	if d := distributionOf(up); d.p99 > time.Second {
		s.t.Errorf("with the manager up, access outlived a boundary by %v (p99); the goal is 1 s", d.p99)
	}
	if d := distributionOf(afterStart); d.p99 > 2*time.Second {
		s.t.Errorf("after a restart, access outlived the new manager's start by %v (p99); the bound is 2 s", d.p99)
	}
}

// creditCode completes a code's first seventeen characters with its check character.
func creditCode(body string) string {
	check, _ := opv1.CreditCodeCheck(body)
	return body + string(check)
}
