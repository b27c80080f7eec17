package grant

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
)

// Where a domain's grant-token keys live.
const (
	// SigningKeysSecret holds the private keys, in the control namespace, which members
	// cannot read.
	SigningKeysSecret = "opdomain-grant-signing-keys"
	// JWKSConfigMap publishes the public keys in the data zone, key JWKSKey, so a data service
	// verifies tokens offline.
	JWKSConfigMap = "opdomain-grant-jwks"
	JWKSKey       = "jwks.json"
	// TokenKey is the key of the token in a grant's credential Secret.
	TokenKey    = "token"
	keyRingKey  = "keys.json"
	tokenIssuer = "opdomain.io/"
)

// TokenClaims are the claims of a grant token: the standard ones (iss opdomain.io/<domain>,
// sub the workspace namespace, aud <domain>-data, exp, nbf, iat, jti a random token ID) and
// exactly what was granted.
type TokenClaims struct {
	jwt.Claims
	Grant     string           `json:"grant"`
	Workspace string           `json:"workspace"`
	Scenario  string           `json:"scenario"`
	Items     []opv1.GrantItem `json:"items"`
}

// Audience is the aud of every grant token of a domain: its data services.
func Audience(domain string) string { return domain + "-data" }

// signingKey is one Ed25519 key of a domain's key ring.
type signingKey struct {
	ID      string    `json:"kid"`
	Created time.Time `json:"created"`
	Seed    []byte    `json:"seed"`
}

func (k signingKey) private() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(k.Seed) }

// keyRing is a domain's grant-token keys, oldest first; the newest signs.
type keyRing struct {
	keys []signingKey
}

// readKeyRing reads the ring as stored, through r. The reconciler reads past the cache: a ring
// read stale right after a key was added would add another and drop the first, and with it
// every token it signed.
func readKeyRing(ctx context.Context, r client.Reader, d *opv1.OperationDomain) (*keyRing, error) {
	var s corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: d.Spec.ControlNamespace, Name: SigningKeysSecret}, &s)
	if apierrors.IsNotFound(err) {
		return &keyRing{}, nil
	}
	if err != nil {
		return nil, err
	}
	ring := &keyRing{}
	if err := json.Unmarshal(s.Data[keyRingKey], &ring.keys); err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return ring, nil
}

// find returns the key with the given ID.
func (ring *keyRing) find(id string) (signingKey, bool) {
	for _, k := range ring.keys {
		if k.ID == id {
			return k, true
		}
	}
	return signingKey{}, false
}

// writeKeyRing stores the ring and publishes its public keys, the private side first so a
// published key always has its private half.
func (r *Reconciler) writeKeyRing(ctx context.Context, d *opv1.OperationDomain, ring *keyRing) error {
	raw, err := json.Marshal(ring.keys)
	if err != nil {
		return err
	}
	labels := map[string]string{opv1.LabelDomain: d.Name, opv1.LabelComponent: "grant-keys"}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: SigningKeysSecret, Namespace: d.Spec.ControlNamespace, Labels: labels},
		Data:       map[string][]byte{keyRingKey: raw},
	}
	if err := apply.Object(ctx, r.Client, secret); err != nil {
		return err
	}
	set := jose.JSONWebKeySet{}
	for _, k := range ring.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.private().Public(), KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return err
	}
	return apply.Object(ctx, r.Client, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: JWKSConfigMap, Namespace: d.Spec.DataZoneNamespace, Labels: labels},
		Data:       map[string]string{JWKSKey: string(jwks)},
	})
}

// currentKey returns the key that signs now, adding a new one when the newest is older than
// the rotation period. Older keys stay published while a token they signed is live.
func (r *Reconciler) currentKey(ctx context.Context, d *opv1.OperationDomain) (signingKey, error) {
	ring, err := readKeyRing(ctx, r.APIReader, d)
	if err != nil {
		return signingKey{}, err
	}
	now := r.Clock.Now()
	if n := len(ring.keys); n > 0 && now.Sub(ring.keys[n-1].Created) < r.KeyRotation {
		return ring.keys[n-1], nil
	}
	seed := make([]byte, ed25519.SeedSize)
	id := make([]byte, 8)
	if _, err := rand.Read(seed); err != nil {
		return signingKey{}, err
	}
	if _, err := rand.Read(id); err != nil {
		return signingKey{}, err
	}
	key := signingKey{ID: hex.EncodeToString(id), Created: now.UTC(), Seed: seed}
	ring.keys = append(ring.keys, key)
	return key, r.writeKeyRing(ctx, d, ring)
}

// retireKeys drops every key but the newest that no Active grant's token uses: a key outlives
// its rotation exactly as long as a live grant needs it. closing names a grant whose token is
// being withdrawn, whatever its status still says.
func (r *Reconciler) retireKeys(ctx context.Context, d *opv1.OperationDomain, closing string) error {
	ring, err := readKeyRing(ctx, r.APIReader, d)
	if err != nil || len(ring.keys) < 2 {
		return err
	}
	// Live too: a grant whose credential was written a moment ago must not be missed.
	var grants opv1.DataGrantList
	if err := r.APIReader.List(ctx, &grants, client.InNamespace(d.Spec.ControlNamespace)); err != nil {
		return err
	}
	var inUse []string
	for _, g := range grants.Items {
		if c := g.Status.Credential; c != nil && g.Status.Phase == opv1.GrantActive && g.Name != closing && g.DeletionTimestamp == nil {
			inUse = append(inUse, c.KeyID)
		}
	}
	newest := ring.keys[len(ring.keys)-1]
	kept := slices.DeleteFunc(slices.Clone(ring.keys), func(k signingKey) bool { return k.ID != newest.ID && !slices.Contains(inUse, k.ID) })
	if len(kept) == len(ring.keys) {
		return nil
	}
	ring.keys = kept
	return r.writeKeyRing(ctx, d, ring)
}

// issueToken keeps the grant's token, or signs a new one when there is none or its expiry no
// longer matches, and returns its credential and the record of its Secret.
func (r *Reconciler) issueToken(ctx context.Context, g *opv1.DataGrant, d *opv1.OperationDomain, a *opv1.Authorization, ns string) (*opv1.GrantCredential, opv1.ObjectRecord, error) {
	exp := g.Spec.Term.End.Time
	if a.Spec.Term.End.Before(&g.Spec.Term.End) {
		exp = a.Spec.Term.End.Time
	}
	name := "opdomain-grant-" + g.Name
	record := func(c *opv1.GrantCredential, uid string) opv1.ObjectRecord {
		return opv1.ObjectRecord{Kind: "Secret", Namespace: ns, Name: name, UID: uid, Detail: "grant token signed by key " + c.KeyID}
	}
	if c := g.Status.Credential; c != nil && c.SecretName == name && c.TokenID != "" && c.ExpiresAt.Equal(&metav1.Time{Time: exp}) {
		var existing corev1.Secret
		err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &existing)
		if err == nil && len(existing.Data[TokenKey]) > 0 {
			return c, record(c, string(existing.UID)), nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, opv1.ObjectRecord{}, err
		}
	}
	fail := func(err error) (*opv1.GrantCredential, opv1.ObjectRecord, error) {
		return nil, opv1.ObjectRecord{}, err
	}
	switch c, uid, err := r.adopt(ctx, g, d, ns, name, exp); {
	case err != nil:
		return fail(err)
	case c != nil:
		return c, record(c, uid), nil
	}
	key, err := r.currentKey(ctx, d)
	if err != nil {
		return fail(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.private(), KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return fail(err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return fail(err)
	}
	tokenID := hex.EncodeToString(id)
	now := r.Clock.Now()
	token, err := jwt.Signed(signer).Claims(TokenClaims{
		Claims: jwt.Claims{
			Issuer: tokenIssuer + d.Name, Subject: ns, Audience: jwt.Audience{Audience(d.Name)},
			Expiry: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: tokenID,
		},
		Grant: g.Name, Workspace: g.Spec.Workspace, Scenario: g.Spec.Scenario.Name, Items: g.Spec.Items,
	}).Serialize()
	if err != nil {
		return fail(err)
	}
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			opv1.LabelDomain: d.Name, opv1.LabelOwnerKind: "DataGrant", opv1.LabelOwnerName: g.Name, opv1.LabelOwnerNamespace: g.Namespace,
		}},
		Data: map[string][]byte{TokenKey: []byte(token)},
	}
	if err := apply.Object(ctx, r.Client, secret); err != nil {
		return fail(err)
	}
	c := &opv1.GrantCredential{SecretName: name, KeyID: key.ID, ExpiresAt: metav1.NewTime(exp), TokenID: tokenID}
	return c, record(c, string(secret.UID)), nil
}

// adopt returns the token already in the grant's Secret, read as stored, when a key of the
// domain's ring signed it for this grant, its workspace namespace, its items and its expiry: a
// reconcile that read the grant from a cache not yet showing its credential takes that token up
// instead of signing a second one, which would leave a workload holding a token that dies at
// once. Closing a grant deletes its Secret, so a reopened grant never adopts its earlier token.
func (r *Reconciler) adopt(ctx context.Context, g *opv1.DataGrant, d *opv1.OperationDomain, ns, name string, exp time.Time) (*opv1.GrantCredential, string, error) {
	var s corev1.Secret
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); {
	case apierrors.IsNotFound(err):
		return nil, "", nil
	case err != nil:
		return nil, "", err
	}
	parsed, err := jwt.ParseSigned(string(s.Data[TokenKey]), []jose.SignatureAlgorithm{jose.EdDSA})
	if !s.DeletionTimestamp.IsZero() || err != nil || len(parsed.Headers) != 1 {
		return nil, "", nil
	}
	ring, err := readKeyRing(ctx, r.APIReader, d)
	if err != nil {
		return nil, "", err
	}
	key, ok := ring.find(parsed.Headers[0].KeyID)
	var claims TokenClaims
	if !ok || parsed.Claims(key.private().Public(), &claims) != nil {
		return nil, "", nil
	}
	if claims.Subject != ns || claims.Grant != g.Name || claims.ID == "" || claims.Expiry == nil || !claims.Expiry.Time().Equal(exp) ||
		!slices.EqualFunc(claims.Items, g.Spec.Items, func(a, b opv1.GrantItem) bool {
			return a.Resource == b.Resource && a.Form == b.Form && slices.Equal(a.Fields, b.Fields)
		}) {
		return nil, "", nil
	}
	return &opv1.GrantCredential{SecretName: name, KeyID: key.ID, ExpiresAt: metav1.NewTime(exp), TokenID: claims.ID}, string(s.UID), nil
}
