package integration

import (
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/rbac"
	"github.com/opdomain/opdomain/controllers/tenancy"
	"github.com/opdomain/opdomain/controllers/workspace"
)

func TestR3_WorkspaceNamespaceIsRestrictedIsolatedAndLimited(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ws1", opv1.NetworkPolicyBoth, 24*time.Hour)
	ns := w.wsNamespace()
	g.Expect(w.ws.Status.Namespace).To(Equal("ws1-ws-acme-dev"))
	g.Expect(kstatus(t, w.ws)).To(Equal(status.CurrentStatus))

	var namespace corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, &namespace)).To(Succeed())
	g.Expect(namespace.Labels).To(And(
		HaveKeyWithValue(opv1.LabelDomain, "ws1"),
		HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"),
		HaveKeyWithValue("pod-security.kubernetes.io/audit", "restricted"),
		HaveKeyWithValue("pod-security.kubernetes.io/warn", "restricted")))

	var quota corev1.ResourceQuota
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, &quota)).To(Succeed())
	g.Expect(quota.Spec.Hard.Cpu().String()).To(Equal("0"), "no bare cpu key; requests and limits are set")
	g.Expect(quota.Spec.Hard[corev1.ResourceRequestsCPU]).To(Equal(resource.MustParse("4")), "workspace value wins")
	g.Expect(quota.Spec.Hard[corev1.ResourceRequestsStorage]).To(Equal(resource.MustParse("50Gi")))
	g.Expect(quota.Spec.Hard[corev1.ResourcePods]).To(Equal(resource.MustParse("20")), "domain default fills the gap")
	g.Expect(quota.Spec.Hard[corev1.ResourceServicesNodePorts]).To(Equal(resource.MustParse("0")))
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.LimitRangeName}, &corev1.LimitRange{})).To(Succeed())

	for _, name := range []string{policy.DefaultDeny, policy.AllowDNS, policy.AllowSameNamespace} {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &networkingv1.NetworkPolicy{})).To(Succeed(), name)
	}

	var binding rbacv1.RoleBinding
	var bindings rbacv1.RoleBindingList
	g.Expect(k8s.List(ctx, &bindings, client.InNamespace(ns))).To(Succeed())
	g.Expect(bindings.Items).To(HaveLen(1), "one binding per member")
	binding = bindings.Items[0]
	g.Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: rbac.GateName(w.domain.Name, w.developer.Name, rbac.Status)}),
		"bound to the agreement's gate at the workspace's visibility")
	g.Expect(binding.Subjects).To(ContainElement(rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: member}))

	cred := w.ws.Status.Credentials[0]
	g.Expect(cred.Member).To(Equal(member))
	g.Expect(cred.ExpiresAt.Time).To(BeTemporally("~", clock.Now().Add(8*time.Hour), time.Minute))
	g.Expect(cred.RenewAt.Time).To(BeTemporally("~", clock.Now().Add(8*time.Hour*8/10), time.Minute))
}

func TestR3_MemberCredentialIsLeastPrivilege(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ws2", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	ns := w.wsNamespace()
	token, _ := memberToken(t, w)
	user := review(t, token)
	g.Expect(user).NotTo(BeNil(), "the member's token authenticates")
	g.Expect(user.Username).To(HavePrefix("system:serviceaccount:ws2-control:"))

	g.Expect(can(t, *user, ns, "create", "", "pods", "")).To(BeTrue())
	g.Expect(can(t, *user, ns, "create", "apps", "deployments", "")).To(BeTrue())
	g.Expect(can(t, *user, ns, "create", "batch", "jobs", "")).To(BeTrue())
	g.Expect(can(t, *user, ns, "create", "", "persistentvolumeclaims", "")).To(BeTrue())
	for _, sub := range []string{"exec", "attach", "portforward", "proxy", "log", "ephemeralcontainers"} {
		g.Expect(can(t, *user, ns, "create", "", "pods", sub)).To(BeFalse(), "pods/"+sub)
		g.Expect(can(t, *user, ns, "get", "", "pods", sub)).To(BeFalse(), "pods/"+sub)
	}
	g.Expect(can(t, *user, ns, "get", "", "services", "proxy")).To(BeFalse())
	g.Expect(can(t, *user, ns, "get", "", "secrets", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "list", "", "secrets", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "create", "networking.k8s.io", "networkpolicies", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "delete", "networking.k8s.io", "networkpolicies", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "create", "cilium.io", "ciliumnetworkpolicies", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "create", "rbac.authorization.k8s.io", "rolebindings", "")).To(BeFalse())
	g.Expect(can(t, *user, ns, "update", "", "resourcequotas", "")).To(BeFalse())
	for _, other := range []string{"ws2-control", "ws2-data", "default", "kube-system"} {
		g.Expect(can(t, *user, other, "create", "", "pods", "")).To(BeFalse(), other)
		g.Expect(can(t, *user, other, "list", "", "pods", "")).To(BeFalse(), other)
	}

	// And the same through the member's own kubeconfig, as kubectl would use it.
	memberClient := memberClient(t, w)
	g.Expect(memberClient.Create(ctx, restrictedPod(ns, "train"))).To(Succeed())
	g.Expect(apierrors.IsForbidden(memberClient.Get(ctx, client.ObjectKey{Namespace: "ws2-control", Name: w.ws.Status.Credentials[0].SecretName}, &corev1.Secret{}))).To(BeTrue())
	g.Expect(apierrors.IsForbidden(memberClient.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policy.DefaultDeny}}))).To(BeTrue())
}

func TestR1_DomainNamespacesRefuseExposedServicesAndHostAccess(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ws3", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	for _, ns := range []string{w.wsNamespace(), "ws3-data"} {
		for _, svcType := range []corev1.ServiceType{corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName} {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "exposed", Namespace: ns},
				Spec: corev1.ServiceSpec{Type: svcType, ExternalName: "example.org", Ports: []corev1.ServicePort{{Port: 80}}}}
			err := k8s.Create(ctx, svc) // even a cluster admin is refused
			g.Expect(err).To(HaveOccurred(), string(svcType))
			g.Expect(err.Error()).To(ContainSubstring("spec.type"), string(svcType))
		}
		// In a workspace Pod Security `restricted` may refuse first; in the data zone, which has
		// no Pod Security level, the domain's admission policy does.
		refusedBy := "opdomain R1"
		if ns == w.wsNamespace() {
			refusedBy = ""
		}
		for field, mutate := range map[string]func(*corev1.Pod){
			"hostNetwork": func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			"hostPath": func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}}}
			},
			"hostPort": func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			},
		} {
			pod := restrictedPod(ns, "host")
			mutate(pod)
			err := k8s.Create(ctx, pod)
			g.Expect(err).To(HaveOccurred(), ns+" "+field)
			g.Expect(err.Error()).To(And(ContainSubstring(field), ContainSubstring(refusedBy)), ns+" "+field)
		}
	}
	clusterIP := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "inside", Namespace: w.wsNamespace()},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	g.Expect(k8s.Create(ctx, clusterIP)).To(Succeed(), "a ClusterIP Service stays inside and is allowed")
}

func TestR3_WorkspaceMembersAreTrainedPersonsOfALiveAgreement(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ws4", opv1.NetworkPolicyKubernetes, 24*time.Hour)

	rejected(t, &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: "nobody", Members: []string{member}},
	}, "spec.authorization", `agreement "nobody" not found`)

	patch := client.MergeFrom(w.ws.DeepCopy())
	w.ws.Spec.Members = []string{member, "zhaoliu@acme.example", "stranger@example.org"}
	err := k8s.Patch(ctx, w.ws, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(
		ContainSubstring("spec.members[1]"), ContainSubstring("zhaoliu@acme.example has no security and compliance training"),
		ContainSubstring("spec.members[2]"), ContainSubstring("stranger@example.org is not a person of agreement acme")))
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws)).To(Succeed())
	g.Expect(w.ws.Spec.Members).To(Equal([]string{member}), "nothing stored")

	// A person whose training record is withdrawn after admission loses access: the same rule,
	// in status.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(w.developer), w.developer)).To(Succeed())
	apatch := client.MergeFrom(w.developer.DeepCopy())
	w.developer.Spec.Persons[0].TrainedAt = nil
	g.Expect(k8s.Patch(ctx, w.developer, apatch)).To(Succeed())
	g.Eventually(conditionText(w.ws, opv1.ConditionAccessGranted), timeout, poll).Should(And(
		HavePrefix("False/"+opv1.ReasonMemberNotEligible), ContainSubstring(member+" has no security and compliance training")))
	g.Expect(condition(w.ws, opv1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Eventually(func() []rbacv1.RoleBinding {
		var bindings rbacv1.RoleBindingList
		g.Expect(k8s.List(ctx, &bindings, client.InNamespace(w.wsNamespace()))).To(Succeed())
		return bindings.Items
	}, timeout, poll).Should(BeEmpty(), "the untrained member's binding is gone")

	// Removing a member is always allowed; no new workspace hangs under an ended agreement.
	patch = client.MergeFrom(w.ws.DeepCopy())
	w.ws.Spec.Members = nil
	g.Expect(k8s.Patch(ctx, w.ws, patch)).To(Succeed())
	terminate(t, w.developer, opv1.EndVoluntaryRequest)
	g.Eventually(phaseOf(w.developer), timeout, poll).Should(Equal(opv1.PhaseTerminated))
	rejected(t, &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name},
	}, "spec.authorization", `agreement "acme" has ended (Terminated)`)
}

func TestR3_DriftIsHealed(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "ws5", opv1.NetworkPolicyBoth, 24*time.Hour)
	ns := w.wsNamespace()
	heal := 2 * time.Second

	g.Expect(k8s.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policy.DefaultDeny}})).To(Succeed())
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &networkingv1.NetworkPolicy{})
	}, heal, poll).Should(Succeed(), "deleted deny policy restored")

	var deny networkingv1.NetworkPolicy
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &deny)).To(Succeed())
	patch := client.MergeFrom(deny.DeepCopy())
	deny.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	g.Expect(k8s.Patch(ctx, &deny, patch)).To(Succeed())
	g.Eventually(func() []networkingv1.PolicyType {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(&deny), &deny)
		return deny.Spec.PolicyTypes
	}, heal, poll).Should(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress), "edited deny policy restored")

	var quota corev1.ResourceQuota
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, &quota)).To(Succeed())
	patch = client.MergeFrom(quota.DeepCopy())
	quota.Spec.Hard[corev1.ResourcePods] = resource.MustParse("1000")
	g.Expect(k8s.Patch(ctx, &quota, patch)).To(Succeed())
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(&quota), &quota)
		q := quota.Spec.Hard[corev1.ResourcePods]
		return q.String()
	}, heal, poll).Should(Equal("20"), "edited quota restored")

	var bindings rbacv1.RoleBindingList
	g.Expect(k8s.List(ctx, &bindings, client.InNamespace(ns))).To(Succeed())
	g.Expect(bindings.Items).To(HaveLen(1))
	g.Expect(k8s.Delete(ctx, &bindings.Items[0])).To(Succeed())
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKeyFromObject(&bindings.Items[0]), &rbacv1.RoleBinding{})
	}, heal, poll).Should(Succeed(), "deleted RoleBinding restored")

	g.Expect(k8s.Delete(ctx, &ciliumv2.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policy.DefaultDeny}})).To(Succeed())
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: policy.DefaultDeny}, &ciliumv2.CiliumNetworkPolicy{})
	}, heal, poll).Should(Succeed(), "deleted Cilium deny policy restored")
}

// memberConfig is the member's kubeconfig as opdomain issued it.
func memberConfig(t testing.TB, w *world) *rest.Config {
	t.Helper()
	g := NewWithT(t)
	var sec corev1.Secret
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: w.ws.Status.Credentials[0].SecretName}, &sec)).To(Succeed())
	cfg, err := clientcmd.RESTConfigFromKubeConfig(sec.Data[workspace.KubeconfigKey])
	g.Expect(err).NotTo(HaveOccurred())
	return cfg
}

func memberClient(t testing.TB, w *world) client.Client {
	t.Helper()
	c, err := client.New(memberConfig(t, w), client.Options{Scheme: controllers.Scheme()})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}
