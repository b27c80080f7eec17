package e2e

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/controllers/summary"
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/fixtures"
	"github.com/opdomain/opdomain/test/node"
)

// member is the world's member in workspace ws, acting from outside the cluster (this process)
// through the kubeconfig opdomain issued them: a client, and a clientset for subresources.
func member(t testing.TB, w *world, ws string) (client.Client, *kubernetes.Clientset) {
	t.Helper()
	g := NewWithT(t)
	obj := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: ws, Namespace: w.domain.Spec.ControlNamespace}}
	var secret corev1.Secret
	g.Eventually(func() error {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		if len(obj.Status.Credentials) != 1 {
			return apierrors.NewNotFound(corev1.Resource("secrets"), "credential")
		}
		return k8s.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: obj.Status.Credentials[0].SecretName}, &secret)
	}, timeout, poll).Should(Succeed())
	cfg, err := clientcmd.RESTConfigFromKubeConfig(secret.Data[workspace.KubeconfigKey])
	g.Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	clientset, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	return c, clientset
}

// agentJob is a Job running the agent once with args in namespace.
func agentJob(namespace, name string, args ...string) *batchv1.Job {
	template := node.RestrictedPod(namespace, name, args...)
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(int32(0)),
			Template:     corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: template.Labels}, Spec: template.Spec},
		},
	}
}

// jobPod waits until job has succeeded on the node and returns its pod, as the cluster's
// administrator sees it.
func jobPod(t testing.TB, job *batchv1.Job) *corev1.Pod {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func() int32 {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
		return job.Status.Succeeded
	}, timeout, poll).Should(Equal(int32(1)), "the Job ran to completion on the node")
	var pods corev1.PodList
	g.Expect(k8s.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name})).To(Succeed())
	g.Expect(pods.Items).To(HaveLen(1))
	return &pods.Items[0]
}

// R3: a member works through the kubeconfig opdomain issued them, from outside the cluster (this
// process): a Job they create really runs to completion on the node, and the API server refuses
// them exec, attach and port-forward into its pod, and its log (a member's kubectl is outside
// the domain).
func TestR3_MemberRunsAJobButCannotEnterItsPod(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "member1", "team-a")
	ns := w.workspaces["team-a"]
	asMember, clientset := member(t, w, "team-a")
	job := agentJob(ns, "train", "resolve", "localhost")
	g.Expect(asMember.Create(ctx, job)).To(Succeed(), "the member creates a Job with their own credential, as soon as the workspace is Ready")
	pod := jobPod(t, job).Name

	for _, sub := range []string{"exec", "attach", "portforward"} {
		err := clientset.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod).SubResource(sub).
			Param("command", "true").Param("stdout", "true").Param("ports", "8080").Do(ctx).Error()
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "pods/%s must be forbidden to the member, got %v", sub, err)
	}
	_, err := clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "pods/log must be forbidden to the member, got %v", err)

	// R8: the API server audited all of it to the chart-installed manager, which kept it as the
	// domain's records, read back through the records' API.
	g.Eventually(func() ([]records.Record, error) {
		page, err := recordsPage(cp.Config, w.domain.Name)
		return page.Records, err
	}, timeout, poll).Should(ContainElements(
		And(HaveField("Verb", "create"), HaveField("Resource", "jobs"), HaveField("Namespace", ns), HaveField("Name", "train"),
			HaveField("Workspace", "team-a"), HaveField("Person", Not(BeEmpty())), HaveField("Code", BeEquivalentTo(201))),
		And(HaveField("Resource", "pods"), HaveField("Subresource", "exec"), HaveField("Decision", "forbid"), HaveField("Code", BeEquivalentTo(403))),
	))
}

// R1, R3: in a sealed workspace (a Raw grant approved) a member's Job runs on the node and the
// kubelet writes its termination message into the pod's status; the member's own kubeconfig
// reads none of it — not the pod, its status or log, the Job, or Events — only the operator's
// summary of the Job: a state and counts.
func TestR1_R3_ASealedWorkspaceShowsItsMemberNothingTheirJobWrote(t *testing.T) {
	g := NewWithT(t)
	w, _ := newGrantWorld(t, "seal1")
	ns := w.workspaces["team-a"]
	openGrantOf(t, w, asReviewer(t), "raw", opv1.FormRaw, time.Hour)
	ws := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: w.domain.Spec.ControlNamespace}}
	g.Eventually(func() string { return fixtures.ConditionStatus(ctx, k8s, ws, opv1.ConditionSealed) }, timeout, poll).
		Should(Equal("True"), "a Raw grant's workspace is sealed")

	asMember, clientset := member(t, w, "team-a")
	const marker = "110101199003074514 Zhang San"
	job := agentJob(ns, "train", "say", marker)
	g.Expect(asMember.Create(ctx, job)).To(Succeed(), "a sealed workspace's member starts work with a create")
	pod := jobPod(t, job)
	g.Expect(pod.Status.ContainerStatuses[0].State.Terminated.Message).To(Equal(marker),
		"control: the kubelet wrote what the workload said into the pod's status")

	paths := []string{
		"/api/v1/namespaces/" + ns + "/pods", "/api/v1/namespaces/" + ns + "/pods/" + pod.Name,
		"/api/v1/namespaces/" + ns + "/pods/" + pod.Name + "/status", "/api/v1/namespaces/" + ns + "/pods/" + pod.Name + "/log",
		"/apis/batch/v1/namespaces/" + ns + "/jobs/train", "/apis/batch/v1/namespaces/" + ns + "/jobs/train/status",
		"/api/v1/namespaces/" + ns + "/events", "/apis/events.k8s.io/v1/namespaces/" + ns + "/events",
	}
	for _, p := range paths {
		answer, err := clientset.RESTClient().Get().AbsPath(p).DoRaw(ctx)
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "GET %s must be forbidden to the member, got %v", p, err)
		g.Expect(string(answer)).NotTo(ContainSubstring(marker), "GET %s", p)
	}
	var view opv1.WorkloadSummary
	g.Eventually(func() opv1.WorkloadState {
		g.Expect(asMember.Get(ctx, client.ObjectKey{Namespace: ns, Name: summary.Name("Job", "train")}, &view)).To(Succeed())
		return view.State
	}, timeout, poll).Should(Equal(opv1.WorkloadSucceeded), "the member sees how their Job did")
	g.Expect(view.Succeeded).To(Equal(int32(1)))
}
