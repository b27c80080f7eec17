package webhook

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Certificates is where a self-managed webhook certificate lives and whom it serves.
type Certificates struct {
	// Namespace holds the Service and the Secret: the manager's own.
	Namespace string
	// Service is the Service in front of the webhook server; the certificate is issued for
	// <service>.<namespace>.svc.
	Service string
	// Secret receives the CA and the serving certificate; it is mounted at CertDir.
	Secret  string
	CertDir string
	// Configuration is the ValidatingWebhookConfiguration the CA bundle is injected into.
	Configuration string
	// APIService, when set, is an APIService the webhook server answers (the records' API),
	// which the CA bundle is injected into as well.
	APIService string
	// ExtraDNSNames are further names the certificate is valid for.
	ExtraDNSNames []string
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update

// ManageCertificates issues a CA and a serving certificate into the Secret, injects the CA into
// the webhook configuration (and the APIService) and rotates both before they expire. The channel closes once the
// certificate is in CertDir and the webhooks may be registered.
func ManageCertificates(mgr ctrl.Manager, c Certificates) (<-chan struct{}, error) {
	if c.Namespace == "" {
		return nil, errors.New("self-managed webhook certificates need the namespace of the webhook Service and Secret")
	}
	ready := make(chan struct{})
	webhooks := []rotator.WebhookInfo{{Name: c.Configuration, Type: rotator.Validating}}
	if c.APIService != "" {
		webhooks = append(webhooks, rotator.WebhookInfo{Name: c.APIService, Type: rotator.APIService})
	}
	// The rotator checks a certificate for its DNSName alone: the name added last (the
	// recorder's) goes there, so that a certificate issued before it was wanted is reissued.
	names := append([]string{fmt.Sprintf("%s.%s.svc", c.Service, c.Namespace)}, c.ExtraDNSNames...)
	return ready, rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: c.Namespace, Name: c.Secret},
		CertDir:        c.CertDir,
		CAName:         "opdomain-webhook-ca",
		CAOrganization: "opdomain",
		DNSName:        names[len(names)-1],
		ExtraDNSNames:  names[:len(names)-1],
		IsReady:        ready,
		Webhooks:       webhooks,
		// Every replica serves the webhook, not only the leader.
		RequireLeaderElection: false,
	})
}
