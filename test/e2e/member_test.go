package e2e

import (
	"testing"

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
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/node"
)

// R3: a member works through the kubeconfig opdomain issued them, from outside the cluster (this
// process): a Job they create really runs to completion on the node, and the API server refuses
// them exec, attach and port-forward into its pod.
func TestR3_MemberRunsAJobButCannotEnterItsPod(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "member1", "team-a")
	ns := w.workspaces["team-a"]
	ws := &opv1.DeveloperWorkspace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: w.domain.Spec.ControlNamespace}}
	var secret corev1.Secret
	g.Eventually(func() error {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		if len(ws.Status.Credentials) != 1 {
			return apierrors.NewNotFound(corev1.Resource("secrets"), "credential")
		}
		return k8s.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: ws.Status.Credentials[0].SecretName}, &secret)
	}, timeout, poll).Should(Succeed())
	cfg, err := clientcmd.RESTConfigFromKubeConfig(secret.Data[workspace.KubeconfigKey])
	g.Expect(err).NotTo(HaveOccurred())
	asMember, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())

	template := node.RestrictedPod(ns, "train", "resolve", "localhost")
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(int32(0)),
			Template:     corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: template.Labels}, Spec: template.Spec},
		},
	}
	g.Expect(asMember.Create(ctx, job)).To(Succeed(), "the member creates a Job with their own credential, as soon as the workspace is Ready")
	g.Eventually(func() int32 {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
		return job.Status.Succeeded
	}, timeout, poll).Should(Equal(int32(1)), "the Job ran to completion on the node")
	var pods corev1.PodList
	g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: job.Name})).To(Succeed())
	g.Expect(pods.Items).To(HaveLen(1))
	pod := pods.Items[0].Name

	clientset, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	for _, sub := range []string{"exec", "attach", "portforward"} {
		err := clientset.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod).SubResource(sub).
			Param("command", "true").Param("stdout", "true").Param("ports", "8080").Do(ctx).Error()
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "pods/%s must be forbidden to the member, got %v", sub, err)
	}
}
