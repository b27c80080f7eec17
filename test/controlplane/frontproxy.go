package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/opdomain/opdomain/controllers/records"
)

// FrontProxy is the client certificate the API server presents, as its front proxy, to the
// aggregated APIs it forwards requests to, and the CA that issued it: what a cluster's
// installer configures (--proxy-client-cert-file, --requestheader-client-ca-file).
type FrontProxy struct {
	CAFile, CertFile, KeyFile string
}

// frontProxyName is the name the front proxy's certificate carries and the API server allows.
const frontProxyName = "front-proxy-client"

// configureFrontProxy issues the front proxy's CA and certificate into a directory of its own
// and gives them to the API server, so that it forwards the records' API (APIService
// v1alpha1.records.opdomain.io) as a cluster's would.
func (cp *ControlPlane) configureFrontProxy() error {
	dir, err := os.MkdirTemp("", "opdomain-front-proxy-")
	if err != nil {
		return err
	}
	cp.frontProxyDir = dir
	fp := FrontProxy{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "front-proxy-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: frontProxyName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for path, block := range map[string]*pem.Block{
		fp.CAFile: {Type: "CERTIFICATE", Bytes: caDER}, fp.CertFile: {Type: "CERTIFICATE", Bytes: leafDER}, fp.KeyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	cp.FrontProxy = fp
	cp.Env.ControlPlane.GetAPIServer().Configure().
		Set("requestheader-client-ca-file", fp.CAFile).
		Set("requestheader-allowed-names", frontProxyName).
		Set("requestheader-username-headers", "X-Remote-User").
		Set("requestheader-group-headers", "X-Remote-Group").
		Set("requestheader-extra-headers-prefix", "X-Remote-Extra-").
		Set("proxy-client-cert-file", fp.CertFile).
		Set("proxy-client-key-file", fp.KeyFile)
	return nil
}

// registerRecordsAPI registers the records' API as the chart does, served by the local webhook
// server: through an ExternalName Service, which the API server resolves to the name's address.
// The serving certificate envtest issues names no Service, so the harness skips verifying it,
// as it does for the audit backend (configureAudit); the chart has the manager's CA injected.
func (cp *ControlPlane) registerRecordsAPI(ctx context.Context) error {
	hooks := cp.Env.WebhookInstallOptions
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: "opdomain-webhook"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: hooks.LocalServingHost},
	}
	if err := cp.Client.Create(ctx, svc); err != nil {
		return err
	}
	api := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": records.APIServiceName},
		"spec": map[string]any{
			"group": records.APIGroup, "version": records.APIVersion,
			"service":               map[string]any{"namespace": svc.Namespace, "name": svc.Name, "port": int64(hooks.LocalServingPort)},
			"insecureSkipTLSVerify": true, "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
		},
	}}
	return cp.Client.Create(ctx, api)
}
