package integration

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/admission"
	"github.com/opdomain/opdomain/controllers/fence"
)

// testFence is the fence the suite's manager injects; no pod runs here, so the image is a name.
var testFence = fence.Config{Image: "registry.example/opdomain/manager:test", Target: "fence-target.example:443"}

// R1: every pod created in a workspace starts with the network fence, before the init containers
// it asked for, restricted and with resources of its own; pods elsewhere in the domain do not.
// A pod that brings its own container of the fence's name is refused (names are unique), and a
// pod that reaches validation without the fence — another admission controller took it out — is
// refused by the domain's policy.
func TestR1_EveryWorkspacePodStartsBehindTheFence(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "fence1", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()

	pod := restrictedPod(ns, "fenced")
	pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	pod.Spec.InitContainers = []corev1.Container{restrictedPod("", "").Spec.Containers[0]}
	pod.Spec.InitContainers[0].Name = "prepare"
	g.Eventually(func() error { return k8s.Create(ctx, pod) }, timeout, poll).Should(Succeed())
	g.Expect(pod.Spec.InitContainers).To(HaveLen(2))
	f := pod.Spec.InitContainers[0]
	g.Expect(f.Name).To(Equal(fence.ContainerName))
	g.Expect(f.Image).To(Equal(testFence.Image))
	g.Expect(f.Command).To(BeEmpty(), "the image's entrypoint, the manager, runs")
	g.Expect(f.Args).To(Equal(testFence.Args()))
	g.Expect(f.SecurityContext.AllowPrivilegeEscalation).To(HaveValue(BeFalse()))
	g.Expect(f.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
	g.Expect(f.SecurityContext.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
	g.Expect(f.Resources.Limits.Memory().String()).To(Equal("32Mi"))
	g.Expect(pod.Spec.InitContainers[1].Name).To(Equal("prepare"), "the pod's own init containers follow the fence")

	inData := restrictedPod(w.domain.Spec.DataZoneNamespace, "unfenced")
	inData.Spec.AutomountServiceAccountToken = ptr.To(false)
	g.Expect(k8s.Create(ctx, inData)).To(Succeed())
	g.Expect(inData.Spec.InitContainers).To(BeEmpty(), "the fence is for workspaces")

	impostor := restrictedPod(ns, "impostor")
	impostor.Spec.AutomountServiceAccountToken = ptr.To(false)
	impostor.Spec.InitContainers = []corev1.Container{restrictedPod("", "").Spec.Containers[0]}
	impostor.Spec.InitContainers[0].Name = fence.ContainerName
	err := k8s.Create(ctx, impostor)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "a second container named %s: %v", fence.ContainerName, err)

	// Another cluster's mutating policy, run after the fence's (reinvoked if need be), strips it.
	strip := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test-strip-fence"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				},
			}}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: "has(object.spec.initContainers) && object.spec.initContainers.exists(c, c.name == '" + fence.ContainerName + "') ? " +
					"[JSONPatch{op: 'replace', path: '/spec/initContainers', value: object.spec.initContainers.filter(c, c.name != '" + fence.ContainerName + "')}] : []"},
			}},
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	}
	stripBinding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-strip-fence"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName:     strip.Name,
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}},
		},
	}
	for _, o := range []client.Object{strip, stripBinding} {
		g.Expect(k8s.Create(ctx, o)).To(Succeed())
		defer func() { g.Expect(k8s.Delete(ctx, o)).To(Succeed()) }()
	}
	stripped := restrictedPod(ns, "stripped")
	stripped.Spec.AutomountServiceAccountToken = ptr.To(false)
	g.Eventually(func() error {
		err := k8s.Create(ctx, stripped, client.DryRunAll)
		if err == nil {
			return errors.New("admitted: the stripping policy is not in force yet")
		}
		return err
	}, timeout, poll).Should(MatchError(And(
		ContainSubstring(admission.BindingName(w.domain.Name)),
		ContainSubstring("spec.initContainers[0]: a workspace pod starts with the network fence "+fence.ContainerName),
		ContainSubstring("opdomain R1"),
	)))
}
