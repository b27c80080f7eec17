package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/test/objectstore"
)

// recordsOf reads the domain's operation records.
func recordsOf(t testing.TB, domain string) []records.Record {
	t.Helper()
	var out []records.Record
	if err := records.Open(recordsDir, nil).Read(ctx, domain, func(r records.Record) error { out = append(out, r); return nil }); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// R8: what happens in a domain becomes its records within seconds, through the API server's own
// audit (the harness starts it with the shipped policy and webhook backend): a member's create,
// with the person behind the credential; a member's exec, denied; the operator's opening of a
// grant. Records are chained: one edited or removed is caught, and by verify-evidence.
func TestR8_OperationsBecomeChainedRecordsWithinSeconds(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "rec1", opv1.NetworkPolicyKubernetes)
	ns := w.wsNamespace()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "model-params", Namespace: ns}, Data: map[string]string{"k": "10"}}
	g.Expect(memberClient(t, w.world).Create(ctx, cm)).To(Succeed())
	cs, err := kubernetes.NewForConfig(memberConfig(t, w.world))
	g.Expect(err).NotTo(HaveOccurred())
	err = cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name("anything").SubResource("exec").
		Param("command", "cat").Param("stdout", "true").Do(ctx).Error()
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))

	g.Eventually(func() []records.Record { return recordsOf(t, "rec1") }, 5*time.Second, poll).Should(ContainElements(
		And(HaveField("Verb", "create"), HaveField("Resource", "configmaps"), HaveField("Namespace", ns), HaveField("Name", "model-params"),
			HaveField("Person", member), HaveField("Workspace", w.ws.Name), HaveField("Decision", "allow"), HaveField("Code", BeEquivalentTo(201))),
		And(HaveField("Verb", "create"), HaveField("Resource", "pods"), HaveField("Subresource", "exec"), HaveField("Person", member),
			HaveField("Decision", "forbid"), HaveField("Code", BeEquivalentTo(403))),
		And(HaveField("User", operatorUser), HaveField("Verb", BeElementOf("create", "patch")), HaveField("Resource", "networkpolicies"),
			HaveField("Name", HavePrefix("opdomain-grant-congestion"))),
	))
	for _, r := range recordsOf(t, "rec1") {
		g.Expect(r.User == operatorUser && (r.Verb == "get" || r.Verb == "list" || r.Verb == "watch")).To(BeFalse(),
			"the operator's reads are its bookkeeping, not records: %+v", r)
	}
	n, err := records.Open(recordsDir, nil).Verify(ctx, "rec1", records.Anchor{}, records.Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeNumerically(">=", 3))
	// The domain anchors its newest record in its status every hour (and at once, the first
	// time): past the hour, the anchor covers what was recorded so far.
	clock.Step(time.Hour + time.Second)
	var anchor records.Anchor
	g.Eventually(func() int64 {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)
		anchor = records.Anchor{Sequence: w.domain.Status.Records.Head.Sequence, Digest: w.domain.Status.Records.Head.Digest}
		return anchor.Sequence
	}, timeout, poll).Should(BeNumerically(">=", n))
	verify := newVerifier(t)
	code, out := verify.run(t, "rec1", recordsFlags()...)
	g.Expect(code).To(Equal(0), out)
	g.Expect(out).To(ContainSubstring("operation records of domain rec1 are intact up to record"))

	// Queried from the command line: a person's records in a workspace.
	out2, err := exec.Command(verify.bin, append(append([]string{"records"}, recordsFlags()...), "--workspace", w.ws.Name, "--person", member, "rec1")...).Output()
	g.Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(strings.TrimSpace(string(out2)), "\n")
	g.Expect(lines).To(HaveLen(2), "the create and the denied exec: %s", out2)
	g.Expect(lines[0]).To(ContainSubstring(`"name":"model-params"`))
	g.Expect(lines[1]).To(ContainSubstring(`"subresource":"exec"`))

	// Tampering, on a copy: the receiver keeps appending to the original.
	tampered := t.TempDir()
	segments, err := filepath.Glob(filepath.Join(recordsDir, "rec1", "*.jsonl"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(segments).To(HaveLen(1), "today's")
	file := filepath.Join(tampered, "rec1", filepath.Base(segments[0]))
	g.Expect(os.MkdirAll(filepath.Dir(file), 0o700)).To(Succeed())
	original, err := os.ReadFile(segments[0])
	g.Expect(err).NotTo(HaveOccurred())
	lines = strings.SplitAfter(string(original), "\n")
	edited := strings.Join(append([]string{strings.Replace(lines[0], `"verb":"`, `"verb":"x`, 1)}, lines[1:]...), "")
	g.Expect(os.WriteFile(file, []byte(edited), 0o600)).To(Succeed())
	_, err = (&records.Store{Dir: tampered}).Verify(ctx, "rec1", records.Anchor{}, records.Anchor{})
	g.Expect(err).To(MatchError(ContainSubstring("record 1 was altered")))
	removed := strings.Join(append([]string{lines[0]}, lines[2:]...), "")
	g.Expect(os.WriteFile(file, []byte(removed), 0o600)).To(Succeed())
	_, err = (&records.Store{Dir: tampered}).Verify(ctx, "rec1", records.Anchor{}, records.Anchor{})
	g.Expect(err).To(MatchError(ContainSubstring("record 3 follows record 1")))
	code, out = verify.run(t, "rec1", "--records-dir", tampered)
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring("TAMPERED: operation records: record 3 follows record 1"))

	// What the chain alone cannot show, the anchor does: the records cut off before it, or
	// rewritten consistently from the first one.
	kept := strings.Join(lines[:anchor.Sequence-1], "")
	g.Expect(os.WriteFile(file, []byte(kept), 0o600)).To(Succeed())
	code, out = verify.run(t, "rec1", "--records-dir", tampered)
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring(fmt.Sprintf("records %d to %d are missing from the end", anchor.Sequence, anchor.Sequence)))
	var all []records.Record
	g.Expect(records.Open(recordsDir, nil).Read(ctx, "rec1", func(r records.Record) error {
		if r.Sequence == 1 {
			r.Verb = "get"
		}
		all = append(all, r)
		return nil
	})).To(Succeed())
	rewritten := t.TempDir()
	g.Expect((&records.Store{Dir: rewritten}).Append(ctx, "rec1", all)).To(Succeed())
	code, out = verify.run(t, "rec1", "--records-dir", rewritten)
	g.Expect(code).To(Equal(1), out)
	g.Expect(out).To(ContainSubstring(fmt.Sprintf("record %d is not the one anchored", anchor.Sequence)))
}

// auditEvent is an audit.k8s.io/v1 event of a completed, allowed create on objectRef, at t.
func auditEvent(t time.Time, objectRef map[string]any) map[string]any {
	return map[string]any{
		"auditID": fmt.Sprintf("test-%d", t.UnixNano()), "stage": "ResponseComplete", "verb": "create",
		"user": map[string]any{"username": "someone@example.com"}, "objectRef": objectRef,
		"responseStatus": map[string]any{"code": 201}, "stageTimestamp": t.UTC().Format(time.RFC3339Nano),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow"},
	}
}

// auditBatch is the body the API server's audit webhook backend posts: an EventList.
func auditBatch(t testing.TB, events []map[string]any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return body
}

// auditPoster posts batches to the manager's receiver as the API server does: over the webhook
// server's TLS, with the token.
type auditPoster struct {
	url  string
	http *http.Client
}

func newAuditPoster() auditPoster {
	return auditPoster{url: cp.WebhookURL(records.Path), http: &http.Client{Transport: &http.Transport{TLSClientConfig: cp.WebhookTLS()}}}
}

// send posts body and returns the HTTP status.
func (p auditPoster) send(body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+auditToken)
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// R6, R8: records are kept for the domain's recordRetentionDays (1095 under Jiangsu) and then
// removed whole days at a time, oldest first, never early; the domain keeps the point pruned to,
// so the chain still verifies. (Records dated years back are posted as the API server would
// post them: the suite's API server cannot date its own events in the past.)
func TestR6_R8_RecordsArePrunedWholeDaysOnceTheirRetentionRunsOut(t *testing.T) {
	g := NewWithT(t)
	now := clock.Now()
	domainRef := map[string]any{"apiGroup": opv1.GroupVersion.Group, "resource": "operationdomains", "name": "rec2"}
	old, older := now.AddDate(0, 0, -1000), now.AddDate(0, 0, -1200)
	var events []map[string]any
	for _, at := range []time.Time{older, older.Add(time.Minute), older.Add(2 * time.Minute), old, old.Add(time.Minute)} {
		events = append(events, auditEvent(at, domainRef))
	}
	g.Expect(newAuditPoster().send(auditBatch(t, events))).To(Equal(http.StatusOK))
	unauthorized, err := http.NewRequestWithContext(ctx, http.MethodPost, newAuditPoster().url, bytes.NewReader(auditBatch(t, events)))
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := newAuditPoster().http.Do(unauthorized)
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "no token, no records")

	d := newDomain(t, "rec2", opv1.NetworkPolicyKubernetes)
	pruned := func() int64 {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(d), d)
		return d.Status.Records.Pruned.Sequence
	}
	g.Eventually(pruned, timeout, poll).Should(BeEquivalentTo(3), "the day 1200 days back is gone")
	g.Expect(filepath.Join(recordsDir, "rec2", "000000000001.jsonl")).NotTo(BeAnExistingFile())
	g.Expect(recordsOf(t, "rec2")).To(ContainElement(HaveField("Sequence", BeEquivalentTo(4))), "1000 days back is kept")
	if archive != nil {
		// Its day is over once today's records (the domain's creation, delivered within a
		// second) begin a later day: it moves into the bucket, locked until its 1095 days end,
		// when the domain next looks (at the latest when it anchors, hourly).
		g.Eventually(func() []records.Record { return recordsOf(t, "rec2") }, timeout, poll).Should(
			ContainElement(HaveField("Sequence", BeNumerically(">", 5))), "today's records")
		clock.Step(time.Hour + time.Second)
		g.Eventually(func() string { return filepath.Join(recordsDir, "rec2", "000000000004.jsonl") }, timeout, poll).ShouldNot(BeAnExistingFile())
		g.Expect(recordsOf(t, "rec2")).To(ContainElement(HaveField("Sequence", BeEquivalentTo(4))), "read from the bucket")
	}
	verify := newVerifier(t)
	code, out := verify.run(t, "rec2", recordsFlags()...)
	g.Expect(code).To(Equal(0), out)

	clock.Step(94 * 24 * time.Hour)
	g.Consistently(pruned, time.Second, poll).Should(BeEquivalentTo(3), "not before its 1095 days")
	clock.Step(2 * 24 * time.Hour)
	g.Eventually(pruned, timeout, poll).Should(BeEquivalentTo(5), "the domain wakes when the next day is due")
	if archive != nil {
		// The suite's clock now runs 96 days ahead of the store's, whose lock decides: the
		// day stays, the domain says so and does not fail, and the records still verify.
		g.Eventually(func() []string { return eventReasons(t, d) }, timeout, poll).Should(ContainElement("RecordsLocked"))
		g.Expect(recordsOf(t, "rec2")).To(ContainElement(HaveField("Sequence", BeEquivalentTo(4))))
		g.Expect(meta.IsStatusConditionTrue(d.Status.Conditions, opv1.ConditionReady)).To(BeTrue())
	}
	code, out = verify.run(t, "rec2", recordsFlags()...)
	g.Expect(code).To(Equal(0), out)
}

// eventReasons are the reasons of the Events about obj.
func eventReasons(t testing.TB, obj client.Object) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// R8, R4: every time a data service asks whether to serve a grant token, the answer is a record
// of the domain before it is given: which token, from which pod, for which items, served or
// not. A token the domain never signed leaves none; an answer that cannot be recorded is "not
// active", so no data is served unrecorded.
func TestR8_EveryUseOfAGrantTokenIsRecordedBeforeItIsServed(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "rec3", opv1.NetworkPolicyKubernetes)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
	token := tokenOf(t, w, gr)
	runningAt(t, w.wsNamespace(), "train", "10.244.0.9")
	uses := func() []records.Record {
		var out []records.Record
		for _, r := range recordsOf(t, "rec3") {
			if r.Verb == "introspect" {
				out = append(out, r)
			}
		}
		return out
	}

	g.Expect(introspect(t, w, token, "10.244.0.9").Active).To(BeTrue())
	g.Expect(uses()).To(ConsistOf(And(HaveField("TokenID", gr.Status.Credential.TokenID), HaveField("Client", "10.244.0.9"),
		HaveField("Workspace", w.ws.Name), HaveField("Name", "congestion"), HaveField("Decision", "allow"),
		HaveField("Items", ConsistOf("traffic-flow Raw: road_id,hour")))),
		"recorded before the answer, not within seconds")

	g.Expect(introspect(t, w, forge(t, w, gr, token), "").Active).To(BeFalse())
	g.Expect(uses()).To(HaveLen(1), "a forged token cannot fill the records")

	// The records cannot be written (the newest segment is, for a moment, a directory): the
	// token is not active, though its grant is.
	segments, err := filepath.Glob(filepath.Join(recordsDir, "rec3", "*.jsonl"))
	g.Expect(err).NotTo(HaveOccurred())
	newest := segments[len(segments)-1]
	g.Expect(os.Rename(newest, newest+".aside")).To(Succeed())
	g.Expect(os.Mkdir(newest, 0o700)).To(Succeed())
	g.Expect(introspect(t, w, token, "10.244.0.9").Active).To(BeFalse(), "not served unrecorded")
	g.Expect(os.Remove(newest)).To(Succeed())
	g.Expect(os.Rename(newest+".aside", newest)).To(Succeed())

	// Where the recorder keeps the records apart from the manager (the chart's layout), the
	// manager sends each use there before it answers; a recorder that does not answer makes
	// the token inactive too.
	ca := filepath.Join(t.TempDir(), "ca.crt")
	g.Expect(os.WriteFile(ca, cp.Env.WebhookInstallOptions.LocalServingCAData, 0o600)).To(Succeed())
	apart := func(url string) grant.Introspection {
		in := &grant.Introspector{Client: k8s, APIReader: k8s, Clock: clock, Records: &records.Remote{URL: url, CAFile: ca, Token: auditToken}}
		form := strings.NewReader(neturl.Values{"token": {token}}.Encode())
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, grant.IntrospectionPath, form)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		answer := httptest.NewRecorder()
		in.ServeHTTP(answer, req)
		var out grant.Introspection
		g.Expect(json.NewDecoder(answer.Body).Decode(&out)).To(Succeed())
		return out
	}
	before := len(uses())
	g.Expect(apart(cp.WebhookURL(records.AppendPath)).Active).To(BeTrue())
	g.Expect(uses()).To(HaveLen(before+1), "kept by the recorder before the answer")
	g.Expect(apart("https://127.0.0.1:1"+records.AppendPath).Active).To(BeFalse(), "no recorder, no data")

	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(func() bool { return introspect(t, w, token, "").Active }, timeout, poll).Should(BeFalse())
	g.Expect(uses()).To(ContainElement(And(HaveField("TokenID", gr.Status.Credential.TokenID), HaveField("Decision", "forbid"))),
		"refused uses are records too")

	out, err := exec.Command(newVerifier(t).bin, append(append([]string{"records"}, recordsFlags()...), "--grant", "congestion", "rec3")...).Output()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).To(And(ContainSubstring(`"verb":"introspect"`), ContainSubstring(`"tokenID":"`+gr.Status.Credential.TokenID)))
	_, err = records.Open(recordsDir, nil).Verify(ctx, "rec3", records.Anchor{}, records.Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
}

// R8: with the records' archive, `manager records` reads the days that moved into the bucket
// as well as the newest on the volume; a bucket without object lock is refused.
func TestR8_RecordsAreQueriedAcrossTheVolumeAndTheArchive(t *testing.T) {
	g := NewWithT(t)
	store := objectstore.Start(t)
	bucket := store.Bucket(t, "records", true)
	archive, err := records.NewArchive(ctx, bucket)
	g.Expect(err).NotTo(HaveOccurred())
	s := &records.Store{Dir: t.TempDir(), Archive: archive}
	now := time.Now().UTC()
	g.Expect(s.Append(ctx, "rec4", []records.Record{{Time: now.AddDate(0, 0, -2), Verb: "create", Person: "li-na"},
		{Time: now.AddDate(0, 0, -1), Verb: "patch", Person: "wang-wei"}, {Time: now, Verb: "delete", Person: "li-na"}})).To(Succeed())
	g.Expect(s.Ship(ctx, "rec4", 1095, now)).To(Equal(2))

	query := func(flags ...string) (string, error) {
		out, err := exec.Command(newVerifier(t).bin, append(append([]string{"records", "--records-dir", s.Dir}, flags...), "rec4")...).CombinedOutput()
		return string(out), err
	}
	out, err := query("--records-bucket", bucket, "--person", "li-na")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(strings.Count(out, "\n")).To(Equal(2), out)
	g.Expect(out).To(And(ContainSubstring(`"verb":"create"`), ContainSubstring(`"verb":"delete"`)), "the archived day and the volume's")
	out, err = query("--person", "li-na")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).NotTo(ContainSubstring(`"verb":"create"`), "without the bucket, only the volume's day")

	out, err = query("--records-bucket", store.Bucket(t, "unlocked", false))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("has no object lock"))
}

// R8: the recorder takes the manager's records (records.AppendPath) only with the audit token,
// and the manager sends them only to a recorder whose certificate the webhook CA vouches for;
// what is taken is chained after the domain's newest record.
func TestR8_TheRecorderTakesTheManagersRecordsOnlyWithTheToken(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	ca, stranger := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "stranger.crt")
	g.Expect(os.WriteFile(ca, cp.Env.WebhookInstallOptions.LocalServingCAData, 0o600)).To(Succeed())
	g.Expect(os.WriteFile(stranger, cp.Config.CAData, 0o600)).To(Succeed())
	to := func(token, caFile string) *records.Remote {
		return &records.Remote{URL: cp.WebhookURL(records.AppendPath), CAFile: caFile, Token: token}
	}
	use := []records.Record{{Time: clock.Now(), Verb: "introspect", TokenID: "t-remote", Client: "10.244.0.7", Items: []string{"traffic-flow"}}}

	g.Expect(to(auditToken, ca).Append(ctx, "rec5", use)).To(Succeed())
	g.Expect(to(auditToken, ca).Append(ctx, "rec5", use)).To(Succeed())
	g.Expect(recordsOf(t, "rec5")).To(HaveExactElements(
		And(HaveField("Sequence", BeEquivalentTo(1)), HaveField("TokenID", "t-remote"), HaveField("Client", "10.244.0.7")),
		HaveField("Sequence", BeEquivalentTo(2))))

	g.Expect(to("not-the-token", ca).Append(ctx, "rec5", use)).To(MatchError(ContainSubstring("401")))
	g.Expect(to(auditToken, stranger).Append(ctx, "rec5", use)).To(MatchError(ContainSubstring("certificate")))
	g.Expect(to(auditToken, ca).Append(ctx, "../rec5", use)).To(HaveOccurred(), "a domain's name, not a path")
	g.Expect(recordsOf(t, "rec5")).To(HaveLen(2), "nothing kept from any of them")
	_, err := records.Open(recordsDir, nil).Verify(ctx, "rec5", records.Anchor{}, records.Anchor{})
	g.Expect(err).NotTo(HaveOccurred())
}
