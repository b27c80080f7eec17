package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/fixtures"
)

const (
	timeout = 20 * time.Second
	poll    = 50 * time.Millisecond
	// tokenCacheTimeout outlasts kube-apiserver's 10 s cache of successful token reviews.
	tokenCacheTimeout = 25 * time.Second
)

var ctx = context.Background()

// world is one domain with an Operator agreement, a Developer agreement under it and a
// workspace, all in force on the fake clock.
type world struct {
	domain    *opv1.OperationDomain
	operator  *opv1.Authorization
	developer *opv1.Authorization
	ws        *opv1.DeveloperWorkspace
}

const member = "lisi@acme.example"

func (w *world) control() string { return w.domain.Spec.ControlNamespace }
func (w *world) wsNamespace() string {
	return workspace.NamespaceName(w.domain.Name, w.ws.Name)
}

// newDomain creates a domain and waits for it to be Ready.
func newDomain(t testing.TB, name string, mode opv1.NetworkPolicyMode) *opv1.OperationDomain {
	t.Helper()
	d := fixtures.Domain(name, mode, "registry.example")
	NewWithT(t).Expect(k8s.Create(ctx, d)).To(Succeed())
	waitReady(t, d)
	return d
}

// The domain resolver the tests name: a Service selecting resolver pods in its own namespace,
// as config/dns installs it. Only its address and selector matter to the API server.
const resolverNamespace, resolverName = "opdomain-dns", "opdomain-resolver"

var resolverLabels = map[string]string{"app.kubernetes.io/name": "opdomain-resolver"}

// inDomainResolver makes the resolver Service once and returns a reference to it.
func inDomainResolver(t testing.TB) *opv1.ServiceReference {
	t.Helper()
	g := NewWithT(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: resolverNamespace}}
	if err := k8s.Create(ctx, ns); !apierrors.IsAlreadyExists(err) {
		g.Expect(err).NotTo(HaveOccurred())
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: resolverName, Namespace: resolverNamespace},
		Spec: corev1.ServiceSpec{Selector: resolverLabels, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
		}},
	}
	if err := k8s.Create(ctx, svc); !apierrors.IsAlreadyExists(err) {
		g.Expect(err).NotTo(HaveOccurred())
	}
	return &opv1.ServiceReference{Namespace: resolverNamespace, Name: resolverName}
}

var qty = fixtures.Quantity

// newAgreement creates an agreement whose term runs from an hour ago to `remaining` from now.
func newAgreement(t testing.TB, d *opv1.OperationDomain, name string, role opv1.Role, parent string, remaining time.Duration, creditCode string) *opv1.Authorization {
	t.Helper()
	now := clock.Now()
	persons := []opv1.Person{
		fixtures.Trained("Li Si", member, now),
		{Name: "Zhao Liu", User: "zhaoliu@acme.example"}, // not trained
	}
	if role == opv1.RoleOperator {
		persons = []opv1.Person{fixtures.Trained("Wang Wu", "wang@operator.example", now)}
	}
	a := fixtures.Agreement(d, name, role, parent, now.Add(-time.Hour), now.Add(remaining), creditCode, persons...)
	g := NewWithT(t)
	g.Expect(k8s.Create(ctx, a)).To(Succeed())
	g.Eventually(func() opv1.AuthorizationPhase {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
		return a.Status.Phase
	}, timeout, poll).Should(Equal(opv1.PhaseActive))
	return a
}

// newWorld builds a domain, an Operator and a Developer agreement, and a Ready workspace.
func newWorld(t testing.TB, name string, mode opv1.NetworkPolicyMode, remaining time.Duration) *world {
	t.Helper()
	w := &world{domain: newDomain(t, name, mode)}
	w.operator = newAgreement(t, w.domain, "operator", opv1.RoleOperator, "", remaining+time.Hour, "91320100MA1CPRAT0P")
	w.developer = newAgreement(t, w.domain, "acme", opv1.RoleDeveloper, "operator", remaining, "91320100MA1ABCDE2J")
	w.ws = &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-dev", Namespace: w.control()},
		Spec: opv1.DeveloperWorkspaceSpec{
			Authorization: "acme",
			Members:       []string{member},
			Resources:     opv1.WorkspaceQuota{CPU: qty("4"), Memory: qty("16Gi"), Storage: qty("50Gi")},
		},
	}
	NewWithT(t).Expect(k8s.Create(ctx, w.ws)).To(Succeed())
	waitReady(t, w.ws)
	waitFenced(t, w.wsNamespace())
	return w
}

// waitFenced waits until the API server adds the fence to a pod created in namespace (a dry
// run): it loads a new domain's fence binding moments after the binding is stored, and until
// then the domain's policy refuses every workspace pod, fence-less.
func waitFenced(t testing.TB, namespace string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		pod := restrictedPod(namespace, "fence-probe")
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
		return k8s.Create(ctx, pod, client.DryRunAll)
	}, timeout, poll).Should(Succeed())
}

// waitReady waits for the Ready condition, as `kubectl wait --for=condition=Ready` does.
func waitReady(t testing.TB, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() string { return readyStatus(obj) }, timeout, poll).Should(Equal("True"),
		"%T %s never became Ready", obj, obj.GetName())
}

func readyStatus(obj client.Object) string {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return "get: " + err.Error()
	}
	c := meta.FindStatusCondition(conditionsOf(obj), opv1.ConditionReady)
	if c == nil {
		return "no Ready condition"
	}
	return string(c.Status)
}

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *opv1.OperationDomain:
		return o.Status.Conditions
	case *opv1.DeveloperWorkspace:
		return o.Status.Conditions
	case *opv1.Authorization:
		return o.Status.Conditions
	case *opv1.DataResource:
		return o.Status.Conditions
	case *opv1.DataGrant:
		return o.Status.Conditions
	}
	panic(fmt.Sprintf("conditionsOf: %T has no conditions here", obj))
}

func condition(obj client.Object, condType string) *metav1.Condition {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil
	}
	return meta.FindStatusCondition(conditionsOf(obj), condType)
}

// conditionText polls a condition as "Status/Reason: Message", or "" while it is absent.
func conditionText(obj client.Object, condType string) func() string {
	return func() string {
		c := condition(obj, condType)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason + ": " + c.Message
	}
}

// addWorkspace adds a workspace under the world's developer agreement and waits for it.
func addWorkspace(t testing.TB, w *world, name string) *opv1.DeveloperWorkspace {
	t.Helper()
	ws := &opv1.DeveloperWorkspace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.control()},
		Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
	}
	NewWithT(t).Expect(k8s.Create(ctx, ws)).To(Succeed())
	waitReady(t, ws)
	return ws
}

// memberToken reads the member's current kubeconfig Secret and returns its token. It reads
// again until status names a Secret that exists, so it never returns a revoked credential.
func memberToken(t testing.TB, w *world) (token, secretName string) {
	t.Helper()
	g := NewWithT(t)
	var sec corev1.Secret
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(w.ws), w.ws); err != nil {
			return err
		}
		if len(w.ws.Status.Credentials) != 1 {
			return fmt.Errorf("%d credentials in status", len(w.ws.Status.Credentials))
		}
		secretName = w.ws.Status.Credentials[0].SecretName
		return k8s.Get(ctx, client.ObjectKey{Namespace: w.control(), Name: secretName}, &sec)
	}, timeout, poll).Should(Succeed())
	cfg, err := clientcmd.Load(sec.Data[workspace.KubeconfigKey])
	g.Expect(err).NotTo(HaveOccurred())
	return cfg.AuthInfos[member].Token, secretName
}

// review asks the API server who a token is; nil when it is rejected.
func review(t testing.TB, token string) *authenticationv1.UserInfo {
	t.Helper()
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	NewWithT(t).Expect(k8s.Create(ctx, tr)).To(Succeed())
	if !tr.Status.Authenticated {
		return nil
	}
	return &tr.Status.User
}

// can asks the API server whether user may do verb on resource[/subresource] in namespace.
func can(t testing.TB, user authenticationv1.UserInfo, namespace, verb, group, res, subresource string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: verb, Group: group, Resource: res, Subresource: subresource,
		},
	}}
	NewWithT(t).Expect(k8s.Create(ctx, sar)).To(Succeed())
	return sar.Status.Allowed
}

// restrictedPod is a pod that Pod Security `restricted` admits.
func restrictedPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To(int64(1000)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "main", Image: "registry.example/train:1",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}
