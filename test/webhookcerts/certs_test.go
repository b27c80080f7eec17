// Package webhookcerts proves the production way the admission webhook is served: the manager
// issues its own CA and serving certificate, the API server is given that CA through the
// webhook configuration, and with the manager gone every validated request is refused.
package webhookcerts

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	opwebhook "github.com/opdomain/opdomain/controllers/webhook"
	"github.com/opdomain/opdomain/test/controlplane"
)

const (
	namespace     = "opdomain-system"
	secretName    = "opdomain-webhook-certs"
	configuration = "opdomain-validating-webhook-configuration"
)

func TestR1_WebhookServesWithItsOwnCertificateAndFailsClosed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	cp, err := controlplane.Start(controllers.Scheme())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = cp.Stop() }()
	k8s := cp.Client

	// Replace the configuration envtest installed (with envtest's own CA) by the shipped one,
	// without a CA bundle, calling the webhook on localhost.
	g.Expect(k8s.DeleteAllOf(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{})).To(Succeed())
	port := freePort(t)
	g.Expect(k8s.Create(ctx, shippedConfiguration(t, fmt.Sprintf("https://localhost:%d", port)))).To(Succeed())
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
	// The Secret holds a certificate still valid for the webhook Service alone, as one issued
	// before the manager was told of another name (an upgrade that adds the recorder's): the
	// API server, calling localhost, trusts only a certificate reissued for it.
	stale := &rotator.CertRotator{CAName: "opdomain-webhook-ca", CAOrganization: "opdomain", DNSName: "opdomain-webhook-service." + namespace + ".svc",
		ExtKeyUsages: &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	now := time.Now()
	ca, err := stale.CreateCACert(now.Add(-time.Hour), now.AddDate(1, 0, 0))
	g.Expect(err).NotTo(HaveOccurred())
	crt, key, err := stale.CreateCertPEM(ca, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: namespace}, Data: map[string][]byte{
		"ca.crt": ca.CertPEM, "ca.key": ca.KeyPEM, "tls.crt": crt, "tls.key": key,
	}})).To(Succeed())

	certDir := t.TempDir()
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme: controllers.Scheme(), Cache: controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{Port: port, CertDir: certDir}),
	})
	g.Expect(err).NotTo(HaveOccurred())
	ready, err := opwebhook.ManageCertificates(mgr, opwebhook.Certificates{
		Namespace: namespace, Service: "opdomain-webhook-service", Secret: secretName, CertDir: certDir,
		Configuration: configuration, ExtraDNSNames: []string{"localhost"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = mgr.Start(mgrCtx)
	}()
	defer func() { stop(); <-stopped }()
	go mountSecret(mgrCtx, k8s, certDir)

	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("the webhook certificate was not ready within 60s")
	}
	g.Expect(controllers.SetupWebhooks(ctx, mgr, controllers.Options{Clock: clock.RealClock{}})).To(Succeed())

	var secret corev1.Secret
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, &secret)).To(Succeed())
	g.Expect(secret.Data).To(HaveKey("ca.crt"))
	g.Expect(secret.Data["tls.crt"]).NotTo(Equal(crt), "the stale certificate was reissued")
	g.Eventually(func() [][]byte {
		var cfg admissionregistrationv1.ValidatingWebhookConfiguration
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: configuration}, &cfg)).To(Succeed())
		var bundles [][]byte
		for _, w := range cfg.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
		return bundles
	}, 20*time.Second, 100*time.Millisecond).Should(HaveEach(Equal(secret.Data["ca.crt"])), "the CA is injected into every webhook")

	// The API server trusts the manager's certificate: a valid domain passes, a second claim on
	// its namespace is refused by the webhook.
	g.Eventually(func() error { return k8s.Create(ctx, domain("first", "first-control", "first-data")) },
		20*time.Second, 200*time.Millisecond).Should(Succeed())
	err = k8s.Create(ctx, domain("second", "second-control", "first-data"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(`spec.dataZoneNamespace: Forbidden: namespace "first-data" already belongs to OperationDomain first`))

	// Fail closed: without the manager nothing it validates is admitted.
	stop()
	<-stopped
	err = k8s.Create(ctx, domain("third", "third-control", "third-data"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("failed calling webhook"))
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: "third"}, &opv1.OperationDomain{}))).To(BeTrue(), "nothing stored")
}

func domain(name, control, data string) *opv1.OperationDomain {
	return &opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: opv1.OperationDomainSpec{
		ControlNamespace: control, DataZoneNamespace: data, Authority: opv1.Authority{Name: "Bureau"},
	}}
}

// shippedConfiguration is config/webhook/manifests.yaml as kustomize names it, with the
// webhook reached at url instead of through its Service.
func shippedConfiguration(t testing.TB, url string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	root, err := controlplane.RepoRoot()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	raw, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	NewWithT(t).Expect(yaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096).Decode(&cfg)).To(Succeed())
	NewWithT(t).Expect(cfg.Webhooks).NotTo(BeEmpty())
	cfg.Name = configuration
	for i := range cfg.Webhooks {
		path := *cfg.Webhooks[i].ClientConfig.Service.Path
		cfg.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + path)}
	}
	return &cfg
}

// mountSecret stands in for the kubelet, which in a cluster projects the certificate Secret
// into the manager's pod: it copies the Secret's keys into dir whenever they change.
func mountSecret(ctx context.Context, c client.Client, dir string) {
	for ctx.Err() == nil {
		var s corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, &s); err == nil {
			for key, value := range s.Data {
				path := filepath.Join(dir, key)
				if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, value) {
					_ = os.WriteFile(path+".tmp", value, 0o600)
					_ = os.Rename(path+".tmp", path)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
