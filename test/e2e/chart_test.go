package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/opdomain/opdomain/controllers/records"
)

// The chart upgrades its CRDs with the release (Helm never upgrades what a chart keeps in
// crds/, so a new release's fields would be pruned from every object), marks them kept when the
// release is uninstalled, and an upgrade leaves the admission webhook serving: its certificate
// and CA bundle are the manager's, which the upgrade does not reset. The suite's release adopted
// CRDs another client created, as one upgrading from a chart with crds/ does: the first upgrade
// that changes them takes their fields over (--force-conflicts, as README says), the next needs
// nothing.
func TestChart_AnUpgradeChangesTheCRDsAndKeepsTheWebhookServing(t *testing.T) {
	g := NewWithT(t)
	next := filepath.Join(t.TempDir(), "opdomain")
	g.Expect(os.CopyFS(next, os.DirFS(chart))).To(Succeed())
	file := filepath.Join(next, "files", "crds", "opdomain.io_teardownrecords.yaml")
	raw, err := os.ReadFile(file)
	g.Expect(err).NotTo(HaveOccurred())
	var crd apiextensionsv1.CustomResourceDefinition
	g.Expect(yaml.Unmarshal(raw, &crd)).To(Succeed())
	for i := range crd.Spec.Versions { // the next release's new field
		spec := crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["spec"]
		spec.Properties["upgradeProbe"] = apiextensionsv1.JSONSchemaProps{Type: "string"}
		crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	}
	edited, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&crd)
	g.Expect(err).NotTo(HaveOccurred())
	delete(edited, "status") // as controller-gen writes it: the API server's to fill
	raw, err = yaml.Marshal(edited)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(file, raw, 0o600)).To(Succeed())

	upgrade := func(chart string, flags ...string) {
		out, err := helm(append([]string{"upgrade", "opdomain", chart, "--namespace", installNamespace, "--reuse-values", "--wait", "--timeout", "3m"}, flags...)...)
		g.Expect(err).NotTo(HaveOccurred(), string(out))
	}
	probe := func() bool {
		var live unstructured.Unstructured
		live.SetGroupVersionKind(crdGVK)
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: crd.Name}, &live)).To(Succeed())
		g.Expect(live.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
		versions, _, _ := unstructured.NestedSlice(live.Object, "spec", "versions")
		g.Expect(versions).NotTo(BeEmpty())
		_, found, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties", "upgradeProbe")
		return found
	}
	t.Cleanup(func() { upgrade(chart) })
	upgrade(next, "--force-conflicts")
	g.Expect(probe()).To(BeTrue(), "the upgrade changed the CRD")
	g.Expect(webhookReachable()).To(Succeed())

	upgrade(chart)
	g.Expect(probe()).To(BeFalse(), "and the next upgrade changed it back")
	g.Expect(webhookReachable()).To(Succeed())
}

// R8: the chart registers the records' API, and the API server forwards to it through the
// webhook Service, trusting the CA the manager injected (no verification is skipped) and
// vouching for the caller with its front proxy certificate: the reader gets the domain's page,
// a stranger is refused by the API server.
func TestChart_TheRecordsAPIIsServedThroughTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	var api unstructured.Unstructured
	api.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"})
	g.Eventually(func() (string, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: records.APIServiceName}, &api); err != nil {
			return "", err
		}
		conditions, _, _ := unstructured.NestedSlice(api.Object, "status", "conditions")
		for _, c := range conditions {
			if c := c.(map[string]any); c["type"] == "Available" {
				return fmt.Sprintf("%v: %v", c["status"], c["message"]), nil
			}
		}
		return "", nil
	}, 2*time.Minute, time.Second).Should(HavePrefix("True"))
	ca, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle")
	g.Expect(ca).NotTo(BeEmpty(), "the manager injected its CA")
	skip, _, _ := unstructured.NestedBool(api.Object, "spec", "insecureSkipTLSVerify")
	g.Expect(skip).To(BeFalse())

	page, err := recordsPage(cp.Config, "webhook-probe")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Kind).To(Equal("OperationRecords"))
	g.Expect(page.Name).To(Equal("webhook-probe"))

	stranger := rest.CopyConfig(cp.Config)
	stranger.Impersonate = rest.ImpersonationConfig{UserName: "records-stranger"}
	_, err = recordsPage(stranger, "webhook-probe")
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
}

// recordsPage reads the first page of a domain's records through the API server, as cfg's user.
func recordsPage(cfg *rest.Config, domain string) (records.OperationRecords, error) {
	var page records.OperationRecords
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return page, err
	}
	path := "/apis/" + records.APIGroup + "/" + records.APIVersion + "/" + records.APIResource + "/" + domain
	raw, err := cs.RESTClient().Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return page, err
	}
	return page, json.Unmarshal(raw, &page)
}

// The chart runs two managers and one recorder: one manager leads, both serve the admission
// webhook, and a PodDisruptionBudget keeps one through a drain. The leader stopping releases its
// lease, so the other leads within the lease's retry period instead of waiting out its 15 s,
// and the webhook never stops answering. The records keep their one writer, the recorder.
func TestChart_TwoManagersHandOverAtOnceAndTheRecorderKeepsTheRecords(t *testing.T) {
	g := NewWithT(t)
	ready := func(name string) func() int32 {
		return func() int32 {
			var d appsv1.Deployment
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: name}, &d)).To(Succeed())
			return d.Status.ReadyReplicas
		}
	}
	g.Eventually(ready("opdomain-manager"), 2*time.Minute, time.Second).Should(BeEquivalentTo(2))
	g.Expect(ready("opdomain-recorder")()).To(BeEquivalentTo(1))
	var pdb policyv1.PodDisruptionBudget
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: "opdomain-manager"}, &pdb)).To(Succeed())
	g.Expect(pdb.Spec.MinAvailable.IntValue()).To(Equal(1))

	holder := func(lease string) func() string {
		return func() string {
			var l coordinationv1.Lease
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: lease}, &l); err != nil || l.Spec.HolderIdentity == nil {
				return ""
			}
			pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_") // the pod's host name, then a UUID
			return pod
		}
	}
	g.Eventually(holder("records.opdomain.io"), time.Minute, time.Second).Should(HavePrefix("opdomain-recorder-"))
	g.Eventually(holder("opdomain.io"), time.Minute, time.Second).Should(HavePrefix("opdomain-manager-"))
	leader := holder("opdomain.io")()

	deleted := time.Now()
	g.Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: leader}})).To(Succeed())
	g.Eventually(holder("opdomain.io"), 8*time.Second, 100*time.Millisecond).Should(
		And(HavePrefix("opdomain-manager-"), Not(Equal(leader))), "the lease released, not waited out")
	t.Logf("the other manager leads %v after the leader's pod was deleted", time.Since(deleted).Round(100*time.Millisecond))
	g.Expect(webhookReachable()).To(Succeed(), "the other replica serves the webhook")
	g.Eventually(ready("opdomain-manager"), 2*time.Minute, time.Second).Should(BeEquivalentTo(2), "the Deployment replaces it")
}
