// Package controlplane starts a real Kubernetes control plane for tests and the demo:
// kube-apiserver and etcd through envtest, kube-controller-manager beside them so that namespaces
// really finalize and garbage collection really runs, with opdomain's CRDs, Cilium's
// CiliumNetworkPolicy CRD and the CSI snapshot CRDs installed, and opdomain's validating webhook configuration pointing
// at a local server. The binaries come from hack/setup-control-plane.sh through
// KUBEBUILDER_ASSETS.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/opdomain/opdomain/controllers/records"
)

// controllers are the kube-controller-manager loops opdomain relies on: namespace deletion,
// owner-reference garbage collection, service account tokens, the PVC/PV protection finalizers
// that would otherwise hold deleted volumes forever, and quota usage, without which the
// ResourceQuota admission refuses every pod.
var controllers = []string{
	"namespace", "garbagecollector", "serviceaccount-token", "serviceaccount",
	"root-ca-cert-publisher", "pvc-protection", "pv-protection", "resourcequota",
	// Binds claims to the volumes made for them; opdomain's admission lets no one else do it.
	"persistentvolume-binder",
}

// workloadControllers are the kube-controller-manager loops that turn workloads into pods and
// Services into endpoints, for a control plane with a node to run them (test/node); without a
// node they would only fill the suite with pods that never start.
var workloadControllers = []string{
	"job-controller", "cronjob-controller", "replicaset-controller", "deployment-controller",
	"statefulset-controller", "endpointslice-controller", "pod-garbage-collector-controller",
	"ttl-after-finished-controller", "disruption-controller",
	// Lifts the not-ready taint a node registers with once it reports Ready.
	"node-lifecycle-controller",
}

// Option changes how the control plane starts.
type Option func(*ControlPlane)

// WithWorkloadControllers runs kube-controller-manager's workload loops as well.
func WithWorkloadControllers() Option {
	return func(cp *ControlPlane) { cp.controllers = append(cp.controllers, workloadControllers...) }
}

// WithAddress serves the API on ip, which the serving certificate then names: an address pods
// can reach, unlike the loopback address envtest picks. The certificate names no Service
// address, so a pod's in-cluster client must be pointed at ip (KUBERNETES_SERVICE_HOST and
// _PORT from APIServerEnv). ip must be an address of this host already.
func WithAddress(ip string) Option {
	return func(cp *ControlPlane) {
		api := cp.Env.ControlPlane.GetAPIServer()
		// envtest picks both address and port when either is missing.
		api.Address, api.Port = ip, freePort(ip)
	}
}

// APIServerEnv is the environment that points a pod's in-cluster client at the API server.
func (cp *ControlPlane) APIServerEnv() ([]corev1.EnvVar, error) {
	u, err := url.Parse(cp.Config.Host)
	if err != nil {
		return nil, err
	}
	return []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: u.Hostname()}, {Name: "KUBERNETES_SERVICE_PORT", Value: u.Port()}}, nil
}

// freePort is a TCP port free on ip now, or "" (envtest then picks an address and port itself,
// and the control plane fails to serve where it was asked to).
func freePort(ip string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return ""
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// WithAudit has the API server audit requests with the shipped policy (config/audit) and deliver
// them, in batches of at most a second, to the operator's webhook server at records.Path,
// presenting token; and registers the records' API, which that server answers.
func WithAudit(token string) Option {
	return func(cp *ControlPlane) { cp.auditToken = token }
}

// WithAuditTo has the API server deliver its audit to server instead, presenting token: the
// manager a chart installed on a node, through its webhook Service's address.
func WithAuditTo(server, token string) Option {
	return func(cp *ControlPlane) { cp.auditServer, cp.auditToken = server, token }
}

// configureAudit points the API server's audit webhook backend at the manager, fixing the local
// webhook server's address first unless the audit goes elsewhere (WithAuditTo). The manager
// issues its certificate (envtest, or the manager in a pod) once the API server runs, after it
// has read this configuration, so the harness skips verifying it: the server is the test's own,
// and the token still authenticates the API server to it. A cluster names the manager's CA
// (README, Operation records).
func (cp *ControlPlane) configureAudit(root string) error {
	server := cp.auditServer
	if server == "" {
		hooks := &cp.Env.WebhookInstallOptions
		if err := hooks.PrepWithoutInstalling(); err != nil {
			return err
		}
		server = cp.WebhookURL(records.Path)
	}
	dir, err := os.MkdirTemp("", "opdomain-audit-")
	if err != nil {
		return err
	}
	cp.auditDir = dir
	kubeconfig := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"opdomain": {Server: server, InsecureSkipTLSVerify: true}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"apiserver": {Token: cp.auditToken}},
		Contexts:       map[string]*clientcmdapi.Context{"audit": {Cluster: "opdomain", AuthInfo: "apiserver"}},
		CurrentContext: "audit",
	}
	path := filepath.Join(dir, "audit-webhook.kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfig, path); err != nil {
		return err
	}
	cp.Env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", filepath.Join(root, "config", "audit", "policy.yaml")).
		Set("audit-webhook-config-file", path).
		Set("audit-webhook-mode", "batch").
		Set("audit-webhook-batch-max-wait", "1s").
		Set("audit-webhook-initial-backoff", "1s")
	return nil
}

// WithoutOperatorInstall leaves out what an installation of the operator brings (its webhook
// configuration, the reviewer ClusterRole), for a suite that installs the chart itself.
func WithoutOperatorInstall() Option {
	return func(cp *ControlPlane) {
		cp.Env.WebhookInstallOptions = envtest.WebhookInstallOptions{}
		cp.withoutInstall = true
	}
}

// ControlPlane is a running kube-apiserver, etcd and kube-controller-manager.
type ControlPlane struct {
	Env *envtest.Environment
	// Config is a system:masters client configuration.
	Config *rest.Config
	// Client is a client with the scheme given to Start.
	Client client.Client

	kcm         *exec.Cmd
	kcmLog      string
	dir         string
	controllers []string
	// withoutInstall: see WithoutOperatorInstall.
	withoutInstall bool
	// auditToken, auditServer and auditDir: see WithAudit and WithAuditTo.
	auditToken, auditServer, auditDir string
	// FrontProxy is the API server's front proxy certificate; frontProxyDir holds it.
	FrontProxy    FrontProxy
	frontProxyDir string
}

// Start brings the control plane up and installs the CRDs. On error nothing is left running.
func Start(scheme *runtime.Scheme, opts ...Option) (*ControlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/setup-control-plane.sh)")
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	ciliumCRD, err := moduleFile(root, "github.com/cilium/cilium", "pkg", "k8s", "apis", "cilium.io", "client", "crds", "v2", "ciliumnetworkpolicies.yaml")
	if err != nil {
		return nil, err
	}
	snapshotCRDs, err := moduleFile(root, "github.com/kubernetes-csi/external-snapshotter/client/v8", "config", "crd")
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), ciliumCRD, snapshotCRDs},
		ErrorIfCRDPathMissing: true,
		// The webhook configuration is installed pointing at a local server with a CA envtest
		// generates; the operator's manager serves it (WebhookServer).
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}},
	}
	// envtest turns the ServiceAccount admission plugin off because it runs no controller to
	// make `default` ServiceAccounts; this harness does, and the plugin is what mounts tokens
	// into pods, which the domain's admission policy must be seen refusing.
	env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	cp := &ControlPlane{Env: env, controllers: slices.Clone(controllers)}
	for _, opt := range opts {
		opt(cp)
	}
	if err := cp.configureFrontProxy(); err != nil {
		return nil, fmt.Errorf("configuring the front proxy: %w", err)
	}
	if cp.auditToken != "" {
		if err := cp.configureAudit(root); err != nil {
			return nil, fmt.Errorf("configuring the audit webhook: %w", err)
		}
	}
	cfg, err := env.Start()
	if err != nil {
		// Stop even when Start failed: it may have left an apiserver or etcd running.
		_ = env.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	cp.Config = cfg
	if cp.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	if err := cp.waitForCRDs(); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	if !cp.withoutInstall {
		if err := cp.installReviewerRole(root); err != nil {
			_ = cp.Stop()
			return nil, err
		}
	}
	// With audit the local manager keeps records, and answers their API: registered only then,
	// since an APIService nobody answers holds up the finalizing of every namespace.
	if !cp.withoutInstall && cp.auditToken != "" && cp.auditServer == "" {
		if err := cp.registerRecordsAPI(context.Background()); err != nil {
			_ = cp.Stop()
			return nil, fmt.Errorf("registering the records' API: %w", err)
		}
	}
	// Started after the CRDs are installed: started earlier, its garbage collector discovers
	// custom resources late and collects their dependants tens of seconds after the owner went.
	if err := cp.startControllerManager(); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	return cp, nil
}

// waitForCRDs waits until every installed kind can be listed. envtest waits for discovery to
// show the CRDs, but the API server serves a kind's requests only once its own informer has
// seen the CRD, and answers 503 until then: a first test could meet that.
func (cp *ControlPlane) waitForCRDs() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, crd := range cp.Env.CRDInstallOptions.CRDs {
		var served string
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served = v.Name
			}
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: crd.Spec.Group, Version: served, Kind: crd.Spec.Names.ListKind})
		for {
			err := cp.Client.List(ctx, list, client.Limit(1))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("kind %s is not served 30 s after its CRD was installed: %w", crd.Spec.Names.Kind, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// ReviewerRole is the name the installation (config/default, the chart's default release) gives
// the ClusterRole of config/rbac/reviewer_role.yaml.
const ReviewerRole = "opdomain-reviewer"

// installReviewerRole installs the reviewer ClusterRole as an installation would: RBAC the
// operator does not manage, which domain admins bind to their reviewers.
func (cp *ControlPlane) installReviewerRole(root string) error {
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "reviewer_role.yaml"))
	if err != nil {
		return err
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(raw, &role); err != nil {
		return fmt.Errorf("reading the reviewer ClusterRole: %w", err)
	}
	role.Name = ReviewerRole
	return cp.Client.Create(context.Background(), &role)
}

// WebhookServer is the admission webhook server the API server calls: a manager given it in
// its options serves opdomain's webhooks there.
func (cp *ControlPlane) WebhookServer() webhook.Server {
	o := cp.Env.WebhookInstallOptions
	return webhook.NewServer(webhook.Options{
		Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
		TLSOpts: []func(*tls.Config){records.RequestClientCertificates},
	})
}

// WebhookURL is the URL of path on the local webhook server, as the API server calls it.
func (cp *ControlPlane) WebhookURL(path string) string {
	o := cp.Env.WebhookInstallOptions
	return "https://" + net.JoinHostPort(o.LocalServingHost, strconv.Itoa(o.LocalServingPort)) + path
}

// WebhookTLS is a client's TLS configuration that trusts the local webhook server's certificate.
func (cp *ControlPlane) WebhookTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.Env.WebhookInstallOptions.LocalServingCAData)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func (cp *ControlPlane) startControllerManager() error {
	var err error
	if cp.dir, err = os.MkdirTemp("", "opdomain-kcm-"); err != nil {
		return err
	}
	// The user name a cluster's kube-controller-manager has, so rules that name it hold here.
	user, err := cp.Env.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfigPath := filepath.Join(cp.dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	certDir := cp.Env.ControlPlane.APIServer.CertDir
	cp.kcmLog = filepath.Join(cp.dir, "kube-controller-manager.log")
	logFile, err := os.Create(cp.kcmLog)
	if err != nil {
		return err
	}
	// The child keeps its own descriptor; ours is only for handing over.
	defer func() { _ = logFile.Close() }()
	bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-controller-manager")
	cp.kcm = exec.Command(bin,
		"--kubeconfig="+kubeconfigPath,
		"--controllers="+strings.Join(cp.controllers, ","),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+filepath.Join(certDir, "apiserver.crt"),
	)
	cp.kcm.Stdout, cp.kcm.Stderr = logFile, logFile
	if err := cp.kcm.Start(); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	return cp.waitForControllerManager()
}

// waitForControllerManager waits until the service account controller has made the default
// namespace's ServiceAccount: proof that kube-controller-manager is up and reconciling.
func (cp *ControlPlane) waitForControllerManager() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		var sa corev1.ServiceAccount
		if err := cp.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "default"}, &sa); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			out, _ := os.ReadFile(cp.kcmLog)
			return fmt.Errorf("kube-controller-manager did not come up in 60s; its log:\n%s", tail(string(out), 4000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops kube-controller-manager, then the apiserver and etcd, and removes temporary files.
func (cp *ControlPlane) Stop() error {
	if cp.kcm != nil && cp.kcm.Process != nil {
		_ = cp.kcm.Process.Kill()
		_ = cp.kcm.Wait()
	}
	err := cp.Env.Stop()
	for _, dir := range []string{cp.dir, cp.auditDir, cp.frontProxyDir} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	return err
}

// UserConfig returns a client configuration for a system:masters user of the given name: the
// operator runs under an identity of its own, as it does in a cluster. It keeps the harness's
// client settings (a high QPS), so no client-side throttling slows the suite down.
func (cp *ControlPlane) UserConfig(name string) (*rest.Config, error) {
	user, err := cp.Env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, cp.Config)
	if err != nil {
		return nil, err
	}
	return user.Config(), nil
}

// KubeConfig returns a kubeconfig for a system:masters user of the given name, for kubectl or
// for the manager run as its own process.
func (cp *ControlPlane) KubeConfig(name string) ([]byte, error) {
	user, err := cp.Env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return user.KubeConfig()
}

// BuildManager builds the manager binary from this repository into dir and returns its path:
// for tests that run the operator, or its commands, as their own processes.
func BuildManager(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	return bin, nil
}

// RepoRoot finds the module root by walking up from the working directory to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// moduleFile locates a file in a module the build pins, so the CRDs installed are those of the
// API types compiled in.
func moduleFile(root, module string, path ...string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	file := filepath.Join(append([]string{strings.TrimSpace(string(out))}, path...)...)
	if _, err := os.Stat(file); err != nil {
		return "", err
	}
	return file, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
