package integration

import (
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/admission"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/policy"
)

func TestR1_DomainCreatesIsolatedNamespacesInBothRenderings(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "jiangsu", opv1.NetworkPolicyBoth)

	for _, ns := range []string{"jiangsu-control", "jiangsu-data"} {
		var namespace corev1.Namespace
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, &namespace)).To(Succeed())
		g.Expect(namespace.Labels).To(HaveKeyWithValue(opv1.LabelDomain, "jiangsu"))
		for _, name := range []string{policy.DefaultDeny, policy.AllowDNS, policy.AllowSameNamespace} {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &networkingv1.NetworkPolicy{})).To(Succeed(), ns+"/"+name)
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ciliumv2.CiliumNetworkPolicy{})).To(Succeed(), ns+"/"+name)
		}
		var deny networkingv1.NetworkPolicy
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &deny)).To(Succeed())
		g.Expect(deny.Spec.PodSelector).To(Equal(metav1.LabelSelector{}), "deny selects every pod")
		g.Expect(deny.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
		g.Expect(deny.Spec.Ingress).To(BeEmpty())
		g.Expect(deny.Spec.Egress).To(BeEmpty())
	}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: admission.PolicyName}, &admissionregistrationv1.ValidatingAdmissionPolicy{})).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: admission.BindingName(d.Name)}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{})).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: admission.DNSPolicyName}, &admissionregistrationv1.MutatingAdmissionPolicy{})).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: admission.DNSBindingName(d.Name)}, &admissionregistrationv1.MutatingAdmissionPolicyBinding{})).To(Succeed())
	g.Expect(kstatus(t, d)).To(Equal(status.CurrentStatus))
	g.Expect(d.Status.Namespaces).To(ConsistOf(opv1.OwnedNamespace{Name: "jiangsu-control"}, opv1.OwnedNamespace{Name: "jiangsu-data"},
		opv1.OwnedNamespace{Name: "jiangsu-airlock"}, opv1.OwnedNamespace{Name: "jiangsu-outbox"}, opv1.OwnedNamespace{Name: "jiangsu-inbox"}))
	// R4, R5: the airlock, outbox and inbox hold bytes at rest: everything denied, not even DNS.
	for _, ns := range []string{"jiangsu-airlock", "jiangsu-outbox", "jiangsu-inbox"} {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &networkingv1.NetworkPolicy{})).To(Succeed(), ns)
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &ciliumv2.CiliumNetworkPolicy{})).To(Succeed(), ns)
		for _, name := range []string{policy.AllowDNS, policy.AllowSameNamespace} {
			g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &networkingv1.NetworkPolicy{}))).To(BeTrue(), ns+"/"+name)
		}
	}
}

func TestR1_DomainAdoptsExistingNamespaceAndRendersOnlyWhatItIsAsked(t *testing.T) {
	g := NewWithT(t)
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gitops-data"}})).To(Succeed())
	d := &opv1.OperationDomain{
		ObjectMeta: metav1.ObjectMeta{Name: "gitops"},
		Spec: opv1.OperationDomainSpec{
			ControlNamespace: "gitops-control", DataZoneNamespace: "gitops-data",
			Authority: opv1.Authority{Name: "Bureau"}, NetworkPolicy: opv1.NetworkPolicyKubernetes,
		},
	}
	g.Expect(k8s.Create(ctx, d)).To(Succeed())
	waitReady(t, d)
	g.Expect(d.Status.Namespaces).To(ConsistOf(opv1.OwnedNamespace{Name: "gitops-control"}, opv1.OwnedNamespace{Name: "gitops-data", Adopted: true},
		opv1.OwnedNamespace{Name: "gitops-airlock"}, opv1.OwnedNamespace{Name: "gitops-outbox"}, opv1.OwnedNamespace{Name: "gitops-inbox"}))
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "gitops-data", Name: policy.DefaultDeny}, &networkingv1.NetworkPolicy{})).To(Succeed())
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: "gitops-data", Name: policy.DefaultDeny}, &ciliumv2.CiliumNetworkPolicy{}))).
		To(BeTrue(), "a Kubernetes-only domain renders no Cilium policy")
	published := client.ObjectKey{Namespace: "gitops-data", Name: grant.IntrospectionConfigMap}
	g.Expect(k8s.Get(ctx, published, &corev1.ConfigMap{})).To(Succeed(), "the data zone learns where to introspect tokens")

	// Deleting the domain releases the adopted namespace and deletes the one it created.
	g.Expect(k8s.Delete(ctx, d)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)) }, timeout, poll).Should(BeTrue())
	var adopted corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "gitops-data"}, &adopted)).To(Succeed())
	g.Expect(adopted.DeletionTimestamp).To(BeNil())
	g.Expect(adopted.Labels).NotTo(HaveKey(opv1.LabelDomain))
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: "gitops-data", Name: policy.DefaultDeny}, &networkingv1.NetworkPolicy{}))).To(BeTrue())
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, published, &corev1.ConfigMap{}))).To(BeTrue(), "nothing the operator published is left behind")
	g.Eventually(func() bool {
		var ns corev1.Namespace
		err := k8s.Get(ctx, client.ObjectKey{Name: "gitops-control"}, &ns)
		return apierrors.IsNotFound(err) || ns.DeletionTimestamp != nil
	}, timeout, poll).Should(BeTrue())
}

func TestR1_SecondDomainCannotClaimANamespace(t *testing.T) {
	g := NewWithT(t)
	newDomain(t, "first", opv1.NetworkPolicyKubernetes)
	for field, second := range map[string]opv1.OperationDomainSpec{
		"spec.dataZoneNamespace": {ControlNamespace: "second-control", DataZoneNamespace: "first-data"},
		"spec.controlNamespace":  {ControlNamespace: "first-data", DataZoneNamespace: "second-data"},
	} {
		second.Authority = opv1.Authority{Name: "Bureau"}
		rejected(t, &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: second},
			field, `namespace "first-data" already belongs to OperationDomain first`, "one domain per namespace")
	}
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: "second-control"}, &corev1.Namespace{}))).
		To(BeTrue(), "a refused domain touches nothing")
}

func TestR1_DomainDeletionWaitsForAgreementsToEnd(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "held", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	g.Expect(k8s.Delete(ctx, w.domain)).To(Succeed())
	g.Eventually(conditionText(w.domain, opv1.ConditionDeletionBlocked), timeout, poll).Should(And(ContainSubstring("Authorization/acme"), ContainSubstring("Authorization/operator"),
		ContainSubstring("DeveloperWorkspace/acme-dev")))
	g.Consistently(func() error { return k8s.Get(ctx, client.ObjectKey{Name: "held-control"}, &corev1.Namespace{}) }, time.Second, poll).Should(Succeed())

	// Ending the operator agreement ends the developer's, which tears the workspace down; then
	// the domain goes, keeping the control namespace because it holds the teardown evidence.
	terminate(t, w.operator, opv1.EndVoluntaryRequest)
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(w.domain), w.domain)) }, 2*timeout, poll).Should(BeTrue())
	var control corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "held-control"}, &control)).To(Succeed())
	g.Expect(control.DeletionTimestamp).To(BeNil(), "the control namespace holds evidence and is kept")
	var records opv1.TeardownRecordList
	g.Expect(k8s.List(ctx, &records, client.InNamespace("held-control"))).To(Succeed())
	var subjects []string
	for _, r := range teardowns(records.Items) {
		subjects = append(subjects, r.Spec.Subject.Kind+"/"+r.Spec.Subject.Name)
	}
	g.Expect(subjects).To(ConsistOf("DeveloperWorkspace/acme-dev", "Authorization/acme", "Authorization/operator"),
		"every ending leaves a record")
}

func terminate(t testing.TB, a *opv1.Authorization, reason opv1.EndReason) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
	patch := client.MergeFrom(a.DeepCopy())
	a.Spec.Termination = &opv1.Termination{Reason: reason}
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
}

// kstatus computes the status Flux and Argo CD would see.
func kstatus(t testing.TB, obj client.Object) status.Status {
	t.Helper()
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: content})
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}
