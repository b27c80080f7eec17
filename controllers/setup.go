// Package controllers wires opdomain's reconcilers into a manager. main.go, the integration
// tests and the demo all go through Setup, so they run the same operator.
package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/airlock"
	"github.com/opdomain/opdomain/controllers/authorization"
	"github.com/opdomain/opdomain/controllers/catalog"
	"github.com/opdomain/opdomain/controllers/dataimport"
	"github.com/opdomain/opdomain/controllers/disclosure"
	"github.com/opdomain/opdomain/controllers/domain"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/gate"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/product"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/controllers/summary"
	"github.com/opdomain/opdomain/controllers/wakeup"
	"github.com/opdomain/opdomain/controllers/webhook"
	"github.com/opdomain/opdomain/controllers/workspace"
)

// Scheme holds every kind the operator reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, opv1.AddToScheme, ciliumv2.AddToScheme, snapshotv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// CacheOptions limits the cache of the children kinds to objects labelled with a domain, so the
// operator neither holds every Secret of the cluster in memory nor needs to.
func CacheOptions() cache.Options {
	req, err := labels.NewRequirement(opv1.LabelDomain, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	inDomain := cache.ByObject{Label: labels.NewSelector().Add(*req)}
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range []client.Object{
		&corev1.Namespace{}, &corev1.Secret{}, &corev1.ConfigMap{}, &corev1.ServiceAccount{}, &corev1.ResourceQuota{},
		&corev1.LimitRange{}, &networkingv1.NetworkPolicy{}, &ciliumv2.CiliumNetworkPolicy{},
		&rbacv1.Role{}, &rbacv1.RoleBinding{}, &rbacv1.ClusterRole{},
	} {
		byObject[o] = inDomain
	}
	// Workloads carry no opdomain label; summaries need them all, trimmed.
	for _, o := range []client.Object{&batchv1.Job{}, &batchv1.CronJob{}, &appsv1.Deployment{}, &appsv1.StatefulSet{}} {
		byObject[o] = cache.ByObject{Transform: summary.Trim}
	}
	return cache.Options{ByObject: byObject}
}

// Options configure the reconcilers.
type Options struct {
	Clock wakeup.Clock
	DNS   policy.DNS
	// Introspection is where the manager serves grant-token introspection, which every data
	// zone may reach; the zero Peer opens no path.
	Introspection policy.Peer
	// IntrospectionEndpoint is what data zones are told about it: its URL and CA bundle.
	IntrospectionEndpoint grant.Endpoint
	// Kubeconfig is the API server that member kubeconfigs point at.
	Kubeconfig workspace.KubeconfigTarget
	// WorkspaceWorkers is how many workspaces are reconciled at once (default 4).
	WorkspaceWorkers int
	// GrantKeyRotation is how long a grant-token signing key signs (default 30 days).
	GrantKeyRotation time.Duration
	// Fence is the network fence every workspace pod starts with; the zero Config adds none.
	Fence fence.Config
	// AirlockImage is the manager's own image, which the airlock's pods run; empty seals nothing.
	AirlockImage string
	// Records is where operation records are kept, by this process; the zero Records keeps none.
	Records Records
	// Recorder is the recorder that keeps them when another process does (SetupRecorder): the
	// records the manager makes itself go there. Unused with Records.
	Recorder *records.Remote
	// Disclosure is the address the public disclosure page is served on; empty serves none.
	Disclosure string
}

// Records is where the domains' operation records are kept (R8) and the archive their days
// move to once over (nil keeps them on Dir's volume), the token the API server's audit webhook
// backend presents when it delivers them, and how often each domain's newest record is anchored
// in its status (default hourly).
type Records struct {
	Dir, Token  string
	Archive     *records.Archive
	AnchorEvery time.Duration
	// Operator is the manager's user, whose reads are not recorded; empty: this process's own
	// (the manager keeping the records itself).
	Operator string
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// MetricsServer serves the manager's metrics at addr over HTTPS, to callers the API server
// authenticates (TokenReview) and authorizes for `get` on the non-resource URL /metrics
// (SubjectAccessReview): bind the ClusterRole opdomain-metrics-reader to the scraper. The
// certificate is self-signed unless one is mounted (certDir, tls.crt and tls.key).
func MetricsServer(addr, certDir string) metricsserver.Options {
	return metricsserver.Options{BindAddress: addr, SecureServing: true, CertDir: certDir, FilterProvider: filters.WithAuthenticationAndAuthorization}
}

// store is the process's one writer of Dir; nil when no records are kept.
func (r Records) store() *records.Store {
	if r.Dir == "" {
		return nil
	}
	return records.Open(r.Dir, r.Archive)
}

// recordsTo is where the records the manager makes itself go: its own store, the recorder, or
// nowhere (nil).
func (o Options) recordsTo() records.Appender {
	switch {
	case o.Records.Dir != "":
		return o.Records.store()
	case o.Recorder != nil:
		return o.Recorder
	}
	return nil
}

// Setup registers the indexes and reconcilers with mgr.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) error {
	if err := index.Register(ctx, mgr); err != nil {
		return err
	}
	cilium, err := serves(mgr.GetRESTMapper(), ciliumv2.SchemeGroupVersion.WithKind("CiliumNetworkPolicy"))
	if err != nil {
		return err
	}
	snapshots, err := serves(mgr.GetRESTMapper(), snapshotv1.SchemeGroupVersion.WithKind("VolumeSnapshot"))
	if err != nil {
		return err
	}
	operator, err := whoAmI(ctx, mgr.GetClient())
	if err != nil {
		return err
	}
	wakeups := func() *wakeup.Scheduler { return wakeup.New(opts.Clock) }
	lock := &airlock.Airlock{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("opdomain-airlock"), Image: opts.AirlockImage}
	reconcilers := []interface{ SetupWithManager(manager.Manager) error }{
		&domain.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("opdomain-domain"),
			Clock: opts.Clock, Wakeups: wakeups(), DNS: opts.DNS, Introspection: opts.Introspection, IntrospectionEndpoint: opts.IntrospectionEndpoint, Cilium: cilium, Operator: operator,
			Fence: opts.Fence,
		},
		&authorization.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("opdomain-authorization"),
			Clock: opts.Clock, Wakeups: wakeups(),
		},
		&gate.Reconciler{Client: mgr.GetClient(), Clock: opts.Clock, Wakeups: wakeups()},
		&catalog.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("opdomain-catalog"), Snapshots: snapshots},
		&summary.Reconciler{Client: mgr.GetClient()},
		&grant.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("opdomain-grant"),
			Clock: opts.Clock, Wakeups: wakeups(), Cilium: cilium, Snapshots: snapshots, KeyRotation: cmp.Or(opts.GrantKeyRotation, 30*24*time.Hour),
		},
		&workspace.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("opdomain-workspace"),
			Clock: opts.Clock, Wakeups: wakeups(), DNS: opts.DNS, Cilium: cilium, Kubeconfig: opts.Kubeconfig,
			Workers: cmp.Or(opts.WorkspaceWorkers, 4),
		},
		&product.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("opdomain-product"), Clock: opts.Clock, Airlock: lock},
		&dataimport.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("opdomain-import"), Clock: opts.Clock, Airlock: lock},
	}
	for _, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if opts.Records.Dir != "" {
		if err := SetupRecorder(mgr, opts); err != nil {
			return err
		}
	}
	metrics.Watch(mgr.GetClient(), mgr.Elected())
	if opts.Disclosure != "" {
		page := disclosure.Runnable{Addr: opts.Disclosure, Server: &disclosure.Server{Reader: mgr.GetClient(), Now: opts.Clock.Now}}
		if err := mgr.Add(page); err != nil {
			return err
		}
	}
	return nil
}

// SetupWebhooks registers the validating admission webhooks, grant-token introspection and the
// operation records' receiver with mgr's webhook server. It is separate from Setup because a
// manager that issues its own certificate registers them only once the certificate is in place
// (the manager starts its webhook server as soon as anything is registered).
func SetupWebhooks(ctx context.Context, mgr manager.Manager, opts Options) error {
	cilium, err := serves(mgr.GetRESTMapper(), ciliumv2.SchemeGroupVersion.WithKind("CiliumNetworkPolicy"))
	if err != nil {
		return err
	}
	if opts.Records.Dir != "" {
		if err := SetupRecorderWebhooks(ctx, mgr, opts); err != nil {
			return err
		}
	}
	// Token introspection shares the webhook server: its certificate, its Service, its port.
	mgr.GetWebhookServer().Register(grant.IntrospectionPath, &grant.Introspector{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: opts.Clock, Cilium: cilium, Records: opts.recordsTo(),
	})
	return (&webhook.Validators{Reader: mgr.GetAPIReader(), Authorizer: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr)
}

// SetupRecorder registers, with the manager of the process that keeps the records (the
// recorder, or a manager that keeps them itself), the keeper of each domain's records.
func SetupRecorder(mgr manager.Manager, opts Options) error {
	store := opts.Records.store()
	if err := store.Claim(); err != nil {
		return err
	}
	return (&records.Keeper{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("opdomain-records"), Clock: opts.Clock, Wakeups: wakeup.New(opts.Clock),
		Store: store, AnchorEvery: cmp.Or(opts.Records.AnchorEvery, time.Hour),
	}).SetupWithManager(mgr)
}

// SetupRecorderWebhooks registers with the webhook server the records' receiver (the API
// server's audit webhook backend), the manager's records (records.AppendPath) and the records'
// API. Like SetupWebhooks, once the webhook server's certificate is in place.
func SetupRecorderWebhooks(ctx context.Context, mgr manager.Manager, opts Options) error {
	operator := opts.Records.Operator
	if operator == "" {
		var err error
		if operator, err = whoAmI(ctx, mgr.GetClient()); err != nil {
			return err
		}
	}
	store := opts.Records.store()
	// The webhook server's port and certificate, which the API server already trusts.
	receiver := &records.Receiver{Store: store, Token: opts.Records.Token, Reader: mgr.GetClient(), Operator: operator}
	mgr.GetWebhookServer().Register(records.Path, receiver)
	mgr.GetWebhookServer().Register(records.AppendPath, receiver.Appends())
	api, err := recordsAPI(ctx, mgr, store)
	if err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(records.APIPath, api)
	return nil
}

// recordsAPI serves the records to whom the API server forwards (APIService
// v1alpha1.records.opdomain.io): the webhook server asks for client certificates
// (records.RequestClientCertificates) so that the API server's front proxy can present its own.
func recordsAPI(ctx context.Context, mgr manager.Manager, store *records.Store) (*records.API, error) {
	kube, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	authn, err := records.FrontProxy(ctx, kube)
	if err != nil {
		return nil, err
	}
	authz, err := records.SubjectAccess(kube)
	if err != nil {
		return nil, fmt.Errorf("the records' API authorizer: %w", err)
	}
	return &records.API{Store: store, Authenticator: authn, Authorizer: authz}, nil
}

// whoAmI asks the API server which user the operator is, so that the admission policy names
// exactly the identity it runs as, whatever the installation calls its ServiceAccount.
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("asking the API server who the operator is: %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("the API server did not say who the operator is")
	}
	return review.Status.UserInfo.Username, nil
}

// serves says whether the cluster serves an optional API: Cilium's policies, CSI snapshots.
func serves(mapper meta.RESTMapper, gvk schema.GroupVersionKind) (bool, error) {
	_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	switch {
	case err == nil:
		return true, nil
	case meta.IsNoMatchError(err):
		return false, nil
	}
	return false, fmt.Errorf("discovering %s: %w", gvk.Kind, err)
}

// KubeconfigTargetFor points member kubeconfigs at server, or at the API server the operator
// itself talks to when server is empty.
func KubeconfigTargetFor(cfg *rest.Config, server string) (workspace.KubeconfigTarget, error) {
	if server == "" {
		server = cfg.Host
	}
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		var err error
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			return workspace.KubeconfigTarget{}, err
		}
	}
	return workspace.KubeconfigTarget{Server: server, CAData: ca}, nil
}
