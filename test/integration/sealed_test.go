package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/summary"
)

// marker is what a workload wrote: it must never reach a member of a sealed workspace.
const marker = "RAW-ROW-4711-road-42-plate-SU-A12345"

// memberHTTP sends requests as the workspace member, with the token of the kubeconfig opdomain
// issued, and returns each answer's status code and body, so a test reads exactly the bytes
// the member would.
type memberHTTP struct {
	t    *testing.T
	host string
	http *http.Client
}

func newMemberHTTP(t *testing.T, w *world) memberHTTP {
	t.Helper()
	cfg := memberConfig(t, w)
	hc, err := rest.HTTPClientFor(cfg)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return memberHTTP{t: t, host: strings.TrimRight(cfg.Host, "/") + cfg.APIPath, http: hc}
}

func (m memberHTTP) do(method, path, contentType, body string) (int, string) {
	m.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, m.host+path, strings.NewReader(body))
	NewWithT(m.t).Expect(err).NotTo(HaveOccurred())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := m.http.Do(req)
	NewWithT(m.t).Expect(err).NotTo(HaveOccurred())
	b, err := io.ReadAll(resp.Body)
	NewWithT(m.t).Expect(resp.Body.Close()).To(Succeed())
	NewWithT(m.t).Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(b)
}

// sealedJob is a suspended Job, so that no controller acts on it but the test.
func sealedJob(namespace, name string) *batchv1.Job {
	pod := restrictedPod(namespace, "")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       batchv1.JobSpec{Suspend: ptr.To(true), Template: corev1.PodTemplateSpec{Spec: pod.Spec}},
	}
}

// R1 (data is usable, not visible): once a Raw grant is approved, its workspace is sealed. A
// pod status, an Event and a Job status that carry what a workload wrote — written as the
// kubelet and the Job controller write them — reach the member by no verb: every read is
// refused, writes that answer with the object are refused, a create answers with the object
// as stored and a delete only with a Status; the member's view is the operator's summary.
func TestR1_SealedWorkspaceShowsMembersNothingAWorkloadWrote(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "seal", opv1.NetworkPolicyKubernetes)
	ns := w.wsNamespace()
	token, _ := memberToken(t, w.world)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil())
	g.Expect(can(t, *user, ns, "get", "", "pods", "status")).To(BeTrue(), "control: before any Raw grant, members read pod status")
	g.Expect(conditionText(w.ws, opv1.ConditionSealed)()).To(HavePrefix("False/" + opv1.ReasonNoRawData))

	raw := w.grant("raw")
	g.Expect(asReviewer.Create(ctx, raw)).To(Succeed())
	g.Eventually(grantPhase(raw), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Expect(conditionText(w.ws, opv1.ConditionSealed)()).To(HavePrefix("True/"+opv1.ReasonRawData), "the path opened only once sealed")
	var namespace corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, &namespace)).To(Succeed())
	g.Expect(namespace.Labels).To(HaveKeyWithValue(opv1.LabelSealed, "true"))

	// What workloads write, in the places they write it.
	job := sealedJob(ns, "train")
	m := newMemberHTTP(t, w.world)
	body, err := json.Marshal(job)
	g.Expect(err).NotTo(HaveOccurred())
	code, created := m.do(http.MethodPost, "/apis/batch/v1/namespaces/"+ns+"/jobs", "application/json", string(body))
	g.Expect(code).To(Equal(http.StatusCreated), m.host+" "+created)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
	pod := restrictedPod(ns, "train-x7k2p")
	g.Expect(k8s.Create(ctx, pod)).To(Succeed())
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", Image: pod.Spec.Containers[0].Image, RestartCount: 3,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 42, Reason: "Error", Message: marker}},
	}}}
	g.Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
	g.Expect(k8s.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "train-x7k2p.probe", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
		Reason:         "Unhealthy", Message: "Readiness probe warning: Probe terminated redirects, Response body: " + marker, Type: corev1.EventTypeWarning,
	})).To(Succeed())
	markJob := func() {
		t.Helper()
		g.Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
				return err
			}
			if strings.Contains(jsonOf(t, job), marker) {
				return nil
			}
			job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{
				Type: "Exported", Status: corev1.ConditionTrue, Reason: "PodFailurePolicy", Message: "container main exited with " + marker,
				LastTransitionTime: metav1.Now(), LastProbeTime: metav1.Now(),
			})
			return k8s.Status().Update(ctx, job)
		}, timeout, poll).Should(Succeed())
	}
	markJob()

	// Every read of a workload, a pod, its status or log, or an Event: refused, marker-free.
	base := map[string]string{
		"pods": "/api/v1/namespaces/" + ns + "/pods", "events": "/api/v1/namespaces/" + ns + "/events",
		"events.k8s.io": "/apis/events.k8s.io/v1/namespaces/" + ns + "/events", "jobs": "/apis/batch/v1/namespaces/" + ns + "/jobs",
		"cronjobs": "/apis/batch/v1/namespaces/" + ns + "/cronjobs", "deployments": "/apis/apps/v1/namespaces/" + ns + "/deployments",
		"statefulsets": "/apis/apps/v1/namespaces/" + ns + "/statefulsets", "replicasets": "/apis/apps/v1/namespaces/" + ns + "/replicasets",
	}
	var paths []string
	for _, p := range base {
		paths = append(paths, p, p+"?watch=true&timeoutSeconds=1")
	}
	paths = append(paths, base["pods"]+"/"+pod.Name, base["pods"]+"/"+pod.Name+"/status", base["pods"]+"/"+pod.Name+"/log",
		base["jobs"]+"/train", base["jobs"]+"/train/status", "/api/v1/pods", "/api/v1/events", "/apis/batch/v1/jobs")
	for _, p := range paths {
		code, answer := m.do(http.MethodGet, p, "", "")
		g.Expect(code).To(Equal(http.StatusForbidden), "GET %s: %s", p, answer)
		g.Expect(answer).NotTo(ContainSubstring(marker), "GET %s", p)
	}
	// Writes that answer with the object, and deleting many at once (which answers with a list).
	for _, p := range []string{base["pods"] + "/" + pod.Name, base["pods"] + "/" + pod.Name + "/status", base["jobs"] + "/train", base["jobs"] + "/train/status"} {
		for _, method := range []string{http.MethodPut, http.MethodPatch} {
			code, answer := m.do(method, p, "application/merge-patch+json", "{}")
			g.Expect(code).To(Equal(http.StatusForbidden), "%s %s: %s", method, p, answer)
			g.Expect(answer).NotTo(ContainSubstring(marker))
		}
	}
	for _, p := range []string{base["pods"], base["jobs"], base["events"], base["deployments"]} {
		code, answer := m.do(http.MethodDelete, p, "", "")
		g.Expect(code).To(Equal(http.StatusForbidden), "DELETE %s: %s", p, answer)
		g.Expect(answer).NotTo(ContainSubstring(marker))
	}
	for _, verb := range []string{"get", "list", "watch", "update", "patch", "deletecollection"} {
		for _, res := range [][2]string{{"", "pods"}, {"", "events"}, {"events.k8s.io", "events"}, {"batch", "jobs"}, {"batch", "cronjobs"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"apps", "statefulsets"}} {
			g.Expect(can(t, *user, ns, verb, res[0], res[1], "")).To(BeFalse(), "%s %s/%s", verb, res[0], res[1])
		}
	}
	g.Expect(can(t, *user, ns, "get", "", "pods", "status")).To(BeFalse())
	g.Expect(can(t, *user, ns, "get", "", "pods", "log")).To(BeFalse())

	// The member's view: the operator's summary, a state and counts.
	var view opv1.WorkloadSummary
	asMember := memberClient(t, w.world)
	g.Eventually(func() error {
		return asMember.Get(ctx, client.ObjectKey{Namespace: ns, Name: summary.Name("Job", "train")}, &view)
	}, timeout, poll).Should(Succeed())
	g.Expect(view.State).To(Equal(opv1.WorkloadSuspended))
	g.Expect(view.Workload).To(Equal(opv1.WorkloadRef{Kind: "Job", Name: "train", UID: string(job.UID)}))
	g.Expect(jsonOf(t, &view)).NotTo(ContainSubstring(marker))

	// A delete that would answer with the object is refused, naming the rule; the one that
	// answers with a Status is admitted beside it.
	markJob()
	jobPath := base["jobs"] + "/train"
	for _, opts := range []string{"", `{"propagationPolicy":"Orphan"}`, `{"propagationPolicy":"Foreground"}`, `{"orphanDependents":true}`} {
		code, answer := m.do(http.MethodDelete, jobPath, "application/json", opts)
		g.Expect(code).To(Equal(http.StatusUnprocessableEntity), "DELETE %s: %s", opts, answer)
		g.Expect(answer).To(And(ContainSubstring("propagationPolicy"), ContainSubstring("sealed workspace")))
		g.Expect(answer).NotTo(ContainSubstring(marker))
	}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed(), "refused deletes left the Job")
	g.Expect(jsonOf(t, job)).To(ContainSubstring(marker), "control: the Job carries the marker when the member deletes it")
	code, answer := m.do(http.MethodDelete, jobPath, "application/json", `{"propagationPolicy":"Background"}`)
	g.Expect(code).To(Equal(http.StatusOK), answer)
	g.Expect(answer).To(ContainSubstring(`"kind":"Status"`))
	g.Expect(answer).NotTo(ContainSubstring(marker))
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: summary.Name("Job", "train")}, &view)
	}, timeout, poll).Should(MatchError(ContainSubstring("not found")), "the summary goes with its workload")

	// A workload with a finalizer would be deleted with its status in the answer: refused.
	fin := sealedJob(ns, "held")
	fin.Finalizers = []string{"example.com/hold"}
	body, err = json.Marshal(fin)
	g.Expect(err).NotTo(HaveOccurred())
	code, answer = m.do(http.MethodPost, base["jobs"], "application/json", string(body))
	g.Expect(code).To(Equal(http.StatusUnprocessableEntity), answer)
	g.Expect(answer).To(ContainSubstring("metadata.finalizers"))

	// Sealed for good: the Raw grant's end and deletion unseal nothing.
	g.Expect(k8s.Delete(ctx, raw)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(raw), raw)) }, timeout, poll).Should(BeTrue())
	g.Consistently(func() bool { return can(t, *user, ns, "get", "", "pods", "status") }, 2*time.Second, 200*time.Millisecond).Should(BeFalse())
	sealed := conditionText(w.ws, opv1.ConditionSealed)()
	g.Expect(sealed).To(HavePrefix("True/"))
	// Each pass carries the reason over; it must not grow with every reconcile.
	for i := range 5 {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)).To(Succeed())
		patch := client.MergeFrom(w.ws.DeepCopy())
		w.ws.Annotations = map[string]string{"example.com/touch": strconv.Itoa(i)}
		g.Expect(k8s.Patch(ctx, w.ws, patch)).To(Succeed())
	}
	g.Consistently(conditionText(w.ws, opv1.ConditionSealed), time.Second, 100*time.Millisecond).Should(Equal(sealed))
}

func jsonOf(t testing.TB, o any) string {
	t.Helper()
	b, err := json.Marshal(o)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return string(b)
}
