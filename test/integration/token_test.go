package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/grant"
)

// introspect asks whether token may be served now, from clientIP when it is not empty, the way
// a data service in the domain's data zone does: at the URL, and trusting only the CA, that the
// operator published there.
func introspect(t testing.TB, w *grantWorld, token, clientIP string) grant.Introspection {
	t.Helper()
	hc, endpoint := introspectionClient(t, w)
	answer, err := askIntrospection(hc, endpoint, token, clientIP)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return answer
}

// askIntrospection is one introspection request; it asserts nothing, so a goroutine may ask.
func askIntrospection(hc *http.Client, endpoint, token, clientIP string) (grant.Introspection, error) {
	form := url.Values{"token": {token}}
	if clientIP != "" {
		form.Set("client_ip", clientIP)
	}
	var answer grant.Introspection
	resp, err := hc.PostForm(endpoint, form)
	if err != nil {
		return answer, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return answer, fmt.Errorf("introspection answered %s", resp.Status)
	}
	return answer, json.NewDecoder(resp.Body).Decode(&answer)
}

// introspectionClients keeps one client per data zone, as a data service keeps its connection.
var introspectionClients sync.Map

func introspectionClient(t testing.TB, w *grantWorld) (*http.Client, string) {
	t.Helper()
	g := NewWithT(t)
	var cm corev1.ConfigMap
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: w.domain.Spec.DataZoneNamespace, Name: grant.IntrospectionConfigMap}, &cm)
	}, timeout, poll).Should(Succeed())
	g.Expect(cm.Data).To(HaveKey(grant.IntrospectionCAKey))
	endpoint := cm.Data[grant.IntrospectionURLKey]
	if hc, ok := introspectionClients.Load(endpoint + cm.Data[grant.IntrospectionCAKey]); ok {
		return hc.(*http.Client), endpoint
	}
	pool := x509.NewCertPool()
	g.Expect(pool.AppendCertsFromPEM([]byte(cm.Data[grant.IntrospectionCAKey]))).To(BeTrue())
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	introspectionClients.Store(endpoint+cm.Data[grant.IntrospectionCAKey], hc)
	return hc, endpoint
}

// runningAt makes a pod in namespace that holds ip, as the kubelet would report it.
func runningAt(t testing.TB, namespace, name, ip string) {
	t.Helper()
	g := NewWithT(t)
	pod := restrictedPod(namespace, name)
	g.Expect(k8s.Create(ctx, pod)).To(Succeed())
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	g.Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
}

// forge signs token's claims with a key of its own, under the grant's key ID.
func forge(t testing.TB, w *grantWorld, gr *opv1.DataGrant, token string) string {
	t.Helper()
	g := NewWithT(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	g.Expect(err).NotTo(HaveOccurred())
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: gr.Status.Credential.KeyID}}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	claims, err := verify(w, token)
	g.Expect(err).NotTo(HaveOccurred())
	forged, err := jwt.Signed(signer).Claims(claims).Serialize()
	g.Expect(err).NotTo(HaveOccurred())
	return forged
}

// R2, R4: a grant's token is served only while its grant is open, and only to its workspace.
// The answer follows the agreement within the operator's cache latency, not the token's exp;
// a reopened grant's earlier token stays dead; a token presented from outside its workspace,
// forged, or not a token at all is never active.
func TestR4_GrantTokenDiesWithItsGrantAndServesOnlyItsWorkspace(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "gintro", opv1.NetworkPolicyKubernetes)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
	token := tokenOf(t, w, gr)

	answer := introspect(t, w, token, "")
	g.Expect(answer.Active).To(BeTrue())
	g.Expect(answer.Subject).To(Equal(w.wsNamespace()))
	g.Expect(answer.Grant).To(Equal("congestion"))
	g.Expect(answer.Items).To(Equal(gr.Spec.Items))
	g.Expect(answer.TokenID).To(Equal(gr.Status.Credential.TokenID))

	// Sender binding: only an address of a live pod in the token's own workspace.
	g.Expect(introspect(t, w, token, "10.244.0.7").Active).To(BeFalse(), "no pod holds the address")
	runningAt(t, w.domain.Spec.DataZoneNamespace, "elsewhere", "10.244.0.8")
	g.Expect(introspect(t, w, token, "10.244.0.8").Active).To(BeFalse(), "a pod outside the workspace")
	runningAt(t, w.wsNamespace(), "train", "10.244.0.7")
	bound := introspect(t, w, token, "10.244.0.7")
	g.Expect(bound.Active).To(BeTrue())
	g.Expect(bound.ClientBound).To(BeTrue())

	// Suspension: the token dies before the grant's status or its policies catch up.
	start := time.Now()
	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	g.Eventually(func() bool { return introspect(t, w, token, "").Active }, time.Second, 5*time.Millisecond).Should(BeFalse())
	t.Logf("token inactive %v after the suspension was written", time.Since(start))

	// Lifted: the grant reopens with a new token; the old one stays dead.
	setSuspension(t, w.developer, nil)
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr)
		if gr.Status.Credential == nil || gr.Status.Phase != opv1.GrantActive {
			return ""
		}
		return gr.Status.Credential.TokenID
	}, timeout, poll).ShouldNot(Or(BeEmpty(), Equal(answer.TokenID)))
	// Introspection answers from the operator's cache, which may not have seen the reopening
	// the status shows yet: until it has, it says inactive (fail closed).
	renewed := tokenOf(t, w, gr)
	g.Eventually(func() bool { return introspect(t, w, renewed, "").Active }, time.Second, 5*time.Millisecond).Should(BeTrue())
	g.Expect(introspect(t, w, token, "").Active).To(BeFalse(), "the earlier token of a reopened grant")

	// A token with the same claims signed by another key, and no token at all.
	g.Expect(introspect(t, w, forge(t, w, gr, tokenOf(t, w, gr)), "").Active).To(BeFalse(), "forged")
	g.Expect(introspect(t, w, "not-a-token", "").Active).To(BeFalse())
	hc, endpoint := introspectionClient(t, w)
	resp, err := hc.Get(endpoint + "?token=" + url.QueryEscape(token))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed), "a token never travels in a URL")
	g.Expect(resp.Body.Close()).To(Succeed())
	resp, err = hc.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader("token=x&client_ip=nope"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
	g.Expect(resp.Body.Close()).To(Succeed())

	// Revoked for good: deleted, the grant's last token is dead.
	last := tokenOf(t, w, gr)
	g.Expect(k8s.Delete(ctx, gr)).To(Succeed())
	g.Eventually(func() bool { return introspect(t, w, last, "").Active }, time.Second, 5*time.Millisecond).Should(BeFalse())
}

// R4: a grant whose status has lost its credential — as a reconcile reading a stale cache sees
// it — takes up the token already in its Secret instead of signing a second one, which would
// leave a workload holding a token that dies at once.
func TestR4_AGrantTakesUpItsTokenRatherThanSigningASecond(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "gad", opv1.NetworkPolicyKubernetes)
	gr := w.grant("adopted")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
	token := tokenOf(t, w, gr)
	id := gr.Status.Credential.TokenID
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr); err != nil {
			return err
		}
		gr.Status.Credential = nil
		return k8s.Status().Update(ctx, gr)
	}, timeout, poll).Should(Succeed())
	g.Eventually(func() string {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gr), gr)).To(Succeed())
		if gr.Status.Credential == nil {
			return ""
		}
		return gr.Status.Credential.TokenID
	}, timeout, poll).Should(Equal(id), "the token in the Secret is taken up again")
	g.Expect(tokenOf(t, w, gr)).To(Equal(token), "and stays the one the workspace holds")
}
