package workspace

import (
	"context"
	"fmt"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
)

// KubeconfigKey is the key of a credential Secret that holds the member's kubeconfig.
const KubeconfigKey = "kubeconfig"

// minTokenLifetime is the shortest token the TokenRequest API issues.
const minTokenLifetime = 10 * time.Minute

// renewFraction of a credential's life passes before it is replaced.
const renewFraction = 0.8

// credential is one issued credential Secret as read back from the cluster.
type credential struct {
	secret             *corev1.Secret
	expiresAt, renewAt time.Time
}

// ensureCredentials gives each eligible member a live credential while access is open, and
// revokes every credential otherwise. A credential is a ServiceAccount token bound to the
// Secret that holds it: deleting the Secret revokes the token.
func (r *Reconciler) ensureCredentials(ctx context.Context, s *scope, open bool) error {
	var accounts corev1.ServiceAccountList
	if err := r.List(ctx, &accounts, client.InNamespace(s.ws.Namespace), s.ownedBy()); err != nil {
		return err
	}
	var secrets corev1.SecretList
	if err := r.List(ctx, &secrets, client.InNamespace(s.ws.Namespace), s.ownedBy()); err != nil {
		return err
	}
	wantAccounts := map[string]bool{}
	var status []opv1.Credential
	for _, p := range s.eligible {
		sa := serviceAccountName(s.ws.Name, p.User)
		wantAccounts[sa] = true
		if err := r.ensureServiceAccount(ctx, s, sa, p.User); err != nil {
			return err
		}
		if !open {
			continue
		}
		cred, err := r.currentCredential(ctx, s, sa, p.User, secrets.Items)
		if err != nil {
			return err
		}
		status = append(status, opv1.Credential{
			Member: p.User, ServiceAccount: sa, SecretName: cred.secret.Name,
			ExpiresAt: metav1.NewTime(cred.expiresAt), RenewAt: ptr.To(metav1.NewTime(cred.renewAt)),
		})
		s.wakeAt(cred.renewAt)
	}
	// Revoke what is no longer wanted: every credential while access is cut, credentials of
	// members who left, and replaced credentials once they expire on their own.
	current := map[string]bool{}
	for _, c := range status {
		current[c.SecretName] = true
	}
	for i := range secrets.Items {
		sec := &secrets.Items[i]
		if current[sec.Name] {
			continue
		}
		expiresAt := annotationTime(sec, opv1.AnnotationExpiresAt)
		keep := open && wantAccounts[sec.Labels[opv1.LabelServiceAccount]] && expiresAt.After(s.now)
		if keep {
			s.wakeAt(expiresAt)
			continue
		}
		if err := apply.Delete(ctx, r.Client, sec); err != nil {
			return err
		}
	}
	for i := range accounts.Items {
		if !wantAccounts[accounts.Items[i].Name] {
			if err := apply.Delete(ctx, r.Client, &accounts.Items[i]); err != nil {
				return err
			}
		}
	}
	s.ws.Status.Credentials = status
	return nil
}

func (r *Reconciler) ensureServiceAccount(ctx context.Context, s *scope, name, user string) error {
	sa := &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: name, Namespace: s.ws.Namespace, Labels: s.memberLabels(user)},
		AutomountServiceAccountToken: ptr.To(false),
	}
	sa.Annotations = map[string]string{opv1.AnnotationMemberUser: user}
	if err := controllerutil.SetControllerReference(s.ws, sa, r.Scheme()); err != nil {
		return err
	}
	return apply.Cached(ctx, r.Client, sa)
}

// currentCredential returns the member's newest credential that is not yet due for renewal,
// issuing a new one when there is none.
func (r *Reconciler) currentCredential(ctx context.Context, s *scope, sa, user string, secrets []corev1.Secret) (credential, error) {
	var live []credential
	for i := range secrets {
		sec := &secrets[i]
		if sec.Labels[opv1.LabelServiceAccount] != sa {
			continue
		}
		c := credential{secret: sec, expiresAt: annotationTime(sec, opv1.AnnotationExpiresAt), renewAt: annotationTime(sec, opv1.AnnotationRenewAt)}
		if len(sec.Data[KubeconfigKey]) > 0 && c.renewAt.After(s.now) {
			live = append(live, c)
		}
	}
	if len(live) > 0 {
		sort.Slice(live, func(i, j int) bool { return live[i].expiresAt.After(live[j].expiresAt) })
		return live[0], nil
	}
	return r.issue(ctx, s, sa, user)
}

// issue creates a credential Secret, requests a token bound to it, and writes the kubeconfig.
// The token lives until the earlier of now + TTL and the agreement's end.
func (r *Reconciler) issue(ctx context.Context, s *scope, sa, user string) (credential, error) {
	ttl := s.domain.Spec.WorkspaceDefaults.CredentialTTL
	if s.ws.Spec.CredentialTTL != nil {
		ttl = s.ws.Spec.CredentialTTL
	}
	life := 8 * time.Hour
	if ttl != nil {
		life = ttl.Duration
	}
	if untilEnd := s.authz.Spec.Term.End.Sub(s.now); untilEnd < life {
		life = untilEnd
	}
	// The API issues nothing shorter than ten minutes; access still ends on time because the
	// operator wakes at the agreement's end and revokes the binding and the token.
	life = max(life, minTokenLifetime)
	expiresAt := s.now.Add(life).Truncate(time.Second)
	labels := s.memberLabels(user)
	labels[opv1.LabelServiceAccount] = sa
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: sa + "-", Namespace: s.ws.Namespace, Labels: labels,
			Annotations: map[string]string{opv1.AnnotationMemberUser: user},
		},
		Type: corev1.SecretTypeOpaque,
	}
	if err := controllerutil.SetControllerReference(s.ws, secret, r.Scheme()); err != nil {
		return credential{}, err
	}
	if err := r.Create(ctx, secret); err != nil {
		return credential{}, fmt.Errorf("creating credential Secret for %s: %w", user, err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(life / time.Second)),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: secret.Name, UID: secret.UID},
	}}
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: s.ws.Namespace}}
	if err := r.SubResource("token").Create(ctx, account, tr); err != nil {
		return credential{}, fmt.Errorf("requesting a token for %s: %w", user, err)
	}
	// The API server may cap a token's life below what was asked
	// (--service-account-max-token-expiration). It states the expiry on its own clock, so compare
	// lifetimes, not instants.
	if granted := time.Until(tr.Status.ExpirationTimestamp.Time); granted > 0 && granted < life-time.Minute {
		life = granted
		expiresAt = s.now.Add(life).Truncate(time.Second)
	}
	renewAt := s.now.Add(time.Duration(float64(life) * renewFraction)).Truncate(time.Second)
	kubeconfig, err := r.kubeconfig(s, user, tr.Status.Token)
	if err != nil {
		return credential{}, err
	}
	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data = map[string][]byte{KubeconfigKey: kubeconfig}
	secret.Annotations[opv1.AnnotationExpiresAt] = expiresAt.UTC().Format(time.RFC3339)
	secret.Annotations[opv1.AnnotationRenewAt] = renewAt.UTC().Format(time.RFC3339)
	if err := r.Patch(ctx, secret, patch); err != nil {
		return credential{}, err
	}
	r.Recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, "CredentialIssued", "Issue", "credential for %s expires at %s", user, expiresAt.UTC().Format(time.RFC3339))
	return credential{secret: secret, expiresAt: expiresAt, renewAt: renewAt}, nil
}

func (r *Reconciler) kubeconfig(s *scope, user, token string) ([]byte, error) {
	name := s.ws.Status.Namespace
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: r.Kubeconfig.Server, CertificateAuthorityData: r.Kubeconfig.CAData}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user, Namespace: name}
	cfg.CurrentContext = name
	return clientcmd.Write(*cfg)
}

func annotationTime(o metav1.Object, key string) time.Time {
	t, err := time.Parse(time.RFC3339, o.GetAnnotations()[key])
	if err != nil {
		return time.Time{}
	}
	return t
}
