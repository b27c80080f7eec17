package grant

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// IntrospectionPath is where the manager's webhook server answers token introspection.
const IntrospectionPath = "/introspect"

// Where a data zone learns how to reach introspection: a ConfigMap with the endpoint's URL and
// the CA bundle its certificate is signed with.
const (
	IntrospectionConfigMap = "opdomain-introspection"
	IntrospectionURLKey    = "url"
	IntrospectionCAKey     = "ca.crt"
)

// Endpoint is how data services reach introspection: its URL, and the
// ValidatingWebhookConfiguration whose CA bundle (the webhook server's CA, however issued)
// they trust.
type Endpoint struct {
	URL          string
	CABundleFrom string
}

// Introspector answers, in the manner of OAuth 2.0 token introspection (RFC 7662), whether a
// grant token may be served now. Offline verification holds a token good until its exp; this
// answer follows the grant at once: it re-evaluates the grant's rules on the operator's current
// view of its agreement, workspace, resources and domain (the same decision the reconciler
// takes), so a token dies as soon as the boundary that closes its grant reaches the operator's
// cache, before the grant's own status catches up. A token is active only while its grant is
// Active with this very token (jti), so a reopened grant's earlier token stays dead.
//
// With client_ip, the token is active only when that address is a running pod's in the
// token's workspace: a token copied out of its workspace is worth nothing elsewhere.
//
// With Records, every answer about a token signed by its domain is first kept as an operation
// record of the domain (R8): which token, from which address, for which items, served or not. An
// answer that cannot be recorded is inactive: no data is served without its record.
type Introspector struct {
	// Client reads through the manager's cache.
	Client client.Client
	// APIReader finds a pod by its address (workspace pods are not cached).
	APIReader client.Reader
	Clock     wakeup.Clock
	Cilium    bool
	// Records keeps the domains' operation records: the store, or the recorder that writes it
	// (records.Remote); nil keeps none.
	Records records.Appender
}

// Introspection is the answer: active, and while active what the token grants.
type Introspection struct {
	Active    bool             `json:"active"`
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  []string         `json:"aud,omitempty"`
	Expiry    int64            `json:"exp,omitempty"`
	TokenID   string           `json:"jti,omitempty"`
	Grant     string           `json:"grant,omitempty"`
	Workspace string           `json:"workspace,omitempty"`
	Scenario  string           `json:"scenario,omitempty"`
	Items     []opv1.GrantItem `json:"items,omitempty"`
	// ClientBound says the client_ip asked about is a pod of the token's workspace.
	ClientBound bool `json:"client_bound,omitempty"`
}

func (in *Introspector) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST application/x-www-form-urlencoded: token=...&client_ip=...", http.StatusMethodNotAllowed)
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
	if err := req.ParseForm(); err != nil || req.PostForm.Get("token") == "" {
		http.Error(w, "form parameter token is required", http.StatusBadRequest)
		return
	}
	var clientIP *netip.Addr
	if raw := req.PostForm.Get("client_ip"); raw != "" {
		ip, err := netip.ParseAddr(raw)
		if err != nil {
			http.Error(w, "client_ip: not an IP address", http.StatusBadRequest)
			return
		}
		clientIP = &ip
	}
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	answer, presented, err := in.Introspect(ctx, req.PostForm.Get("token"), clientIP)
	if err != nil {
		// Fail closed: a token the operator cannot vouch for now is not active.
		logf.FromContext(ctx).V(1).Info("token not active", "reason", err.Error())
		answer = Introspection{}
	}
	if presented != nil && in.Records != nil {
		if err := in.Records.Append(ctx, presented.domain, []records.Record{presented.record(in.Clock.Now(), clientIP, answer.Active)}); err != nil {
			logf.FromContext(ctx).Error(err, "token not active: its use could not be recorded", "domain", presented.domain)
			answer = Introspection{}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(answer)
}

// inactive is a reason a token is not active; it is logged, never told to the caller.
type inactive string

func (e inactive) Error() string { return string(e) }

// Introspect checks a token; any error means not active. Once the token's signature is its
// domain's, it also returns the token as presented, for the record, whatever the answer.
func (in *Introspector) Introspect(ctx context.Context, token string, clientIP *netip.Addr) (Introspection, *Presented, error) {
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(parsed.Headers) != 1 {
		return Introspection{}, nil, inactive("not a grant token")
	}
	var unverified jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil || !strings.HasPrefix(unverified.Issuer, tokenIssuer) {
		return Introspection{}, nil, inactive("not issued by opdomain")
	}
	var d opv1.OperationDomain
	if err := in.Client.Get(ctx, client.ObjectKey{Name: strings.TrimPrefix(unverified.Issuer, tokenIssuer)}, &d); err != nil {
		return Introspection{}, nil, err
	}
	ring, err := readKeyRing(ctx, in.Client, &d)
	if err != nil {
		return Introspection{}, nil, err
	}
	key, ok := ring.find(parsed.Headers[0].KeyID)
	if !ok {
		return Introspection{}, nil, inactive("signing key retired")
	}
	var claims TokenClaims
	if err := parsed.Claims(key.private().Public(), &claims); err != nil {
		return Introspection{}, nil, inactive("bad signature")
	}
	// Only what the domain signed is recorded: a forged token cannot fill the records.
	presented := &Presented{domain: d.Name, namespace: d.Spec.ControlNamespace, claims: claims}
	answer, err := in.decide(ctx, &d, claims, clientIP)
	return answer, presented, err
}

// decide answers for a token whose signature is its domain's.
func (in *Introspector) decide(ctx context.Context, d *opv1.OperationDomain, claims TokenClaims, clientIP *netip.Addr) (Introspection, error) {
	now := in.Clock.Now()
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: tokenIssuer + d.Name, AnyAudience: jwt.Audience{Audience(d.Name)}, Time: now}, 0); err != nil {
		return Introspection{}, inactive(err.Error())
	}
	var g opv1.DataGrant
	if err := in.Client.Get(ctx, client.ObjectKey{Namespace: d.Spec.ControlNamespace, Name: claims.Grant}, &g); err != nil {
		return Introspection{}, err
	}
	if c := g.Status.Credential; g.Status.Phase != opv1.GrantActive || !g.DeletionTimestamp.IsZero() || c == nil || c.TokenID == "" || c.TokenID != claims.ID {
		return Introspection{}, inactive("grant closed or token replaced")
	}
	world, err := ReadWorld(ctx, in.Client, &g)
	if err != nil {
		return Introspection{}, err
	}
	if out := Evaluate(Inputs{Grant: &g, World: world, Now: now, CiliumServed: in.Cilium}); out.Phase != opv1.GrantActive {
		return Introspection{}, inactive("grant closing: " + out.Reason)
	}
	answer := Introspection{
		Active: true, Issuer: claims.Issuer, Subject: claims.Subject, Audience: claims.Audience, Expiry: int64(*claims.Expiry),
		TokenID: claims.ID, Grant: claims.Grant, Workspace: claims.Workspace, Scenario: claims.Scenario, Items: claims.Items,
	}
	if clientIP != nil {
		if err := in.boundTo(ctx, claims.Subject, *clientIP); err != nil {
			return Introspection{}, err
		}
		answer.ClientBound = true
	}
	return answer, nil
}

// Presented is a token its domain signed, as a data service presented it.
type Presented struct {
	domain, namespace string
	claims            TokenClaims
}

// record is the operation record of the token's use: the data service asked, at now, whether
// to serve the token to client, and was told served or not.
func (p *Presented) record(now time.Time, client *netip.Addr, served bool) records.Record {
	r := records.Record{
		Time: now, User: p.claims.Subject, Workspace: p.claims.Workspace, Verb: "introspect",
		APIGroup: opv1.GroupVersion.Group, Resource: "datagrants", Namespace: p.namespace, Name: p.claims.Grant,
		Code: http.StatusOK, Decision: "forbid", TokenID: p.claims.ID,
	}
	if served {
		r.Decision = "allow"
	}
	if client != nil {
		r.Client = client.String()
	}
	for _, it := range p.claims.Items {
		r.Items = append(r.Items, fmt.Sprintf("%s %s: %s", it.Resource, it.Form, strings.Join(it.Fields, ",")))
	}
	return r
}

// boundTo checks that ip is a live pod's in the workspace namespace. The list is served from the
// API server's watch cache (resourceVersion 0): pods move, and a read from etcd per call is
// more than an answer needs.
func (in *Introspector) boundTo(ctx context.Context, namespace string, ip netip.Addr) error {
	var pods corev1.PodList
	if err := in.APIReader.List(ctx, &pods, client.InNamespace(namespace),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("status.podIP", ip.String())},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}}); err != nil {
		return err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp.IsZero() && (p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending) {
			return nil
		}
	}
	return inactive("client " + ip.String() + " is no pod of " + namespace)
}
