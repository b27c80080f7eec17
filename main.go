// Command manager runs the opdomain operator.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/airlock"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/plugin"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/records"
	opwebhook "github.com/opdomain/opdomain/controllers/webhook"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case plugin.Name:
		os.Exit(plugin.Main(os.Args[1:], os.Stdout, os.Stderr))
	case plugin.CompletionName:
		os.Exit(plugin.Complete(os.Args[1:], os.Stdout))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "verify-evidence":
			os.Exit(verifyEvidence(os.Args[2:]))
		case "records":
			os.Exit(queryRecords(os.Args[2:]))
		case "recorder":
			os.Exit(runRecorder(os.Args[2:]))
		case "fence":
			os.Exit(runFence(os.Args[2:]))
		case "seal":
			os.Exit(runSeal(os.Args[2:]))
		case "inspect", "verify":
			os.Exit(runInspect(os.Args[1], os.Args[2:]))
		}
	}
	var f flags
	f.bindServing(flag.CommandLine)
	f.bindRecords(flag.CommandLine)
	flag.IntVar(&f.workers, "workspace-workers", 4, "workspaces reconciled at once")
	flag.StringVar(&f.kubeconfigServer, "kubeconfig-server", "", "API server URL written into member kubeconfigs (default: the URL the operator uses)")
	flag.StringVar(&f.dnsNamespace, "dns-namespace", policy.KubeDNS.Namespace, "namespace of the cluster DNS pods that domain pods may reach")
	flag.StringVar(&f.dnsLabels, "dns-pod-labels", "k8s-app=kube-dns", "comma-separated key=value labels of the cluster DNS pods")
	flag.StringVar(&f.introspectionLabels, "introspection-pod-labels", "",
		"comma-separated key=value labels of the manager's own pods; with POD_NAMESPACE, every data zone may reach their webhook port to introspect grant tokens (empty: no path is opened)")
	flag.DurationVar(&f.grantKeyRotation, "grant-key-rotation", 30*24*time.Hour, "how long a grant-token signing key signs before a new one takes over")
	flag.StringVar(&f.fenceImage, "fence-image", "", "image (the manager's own) whose fence every workspace pod starts with, until the node's "+
		"NetworkPolicy enforcer holds the pod; empty adds no fence")
	flag.StringVar(&f.fenceTarget, "fence-target", "", "host:port the fence dials, which answers unless a pod's egress is enforced and which workspaces "+
		"may not reach (default: the webhook Service's cluster IP and port)")
	flag.StringVar(&f.airlockImage, "airlock-image", "", "image (the manager's own) whose pods seal, inspect, publish and deliver data products and imports; "+
		"empty leaves every product and import waiting to be sealed")
	flag.BoolVar(&f.selfSignedCerts, "self-signed-webhook-certs", true,
		"issue and rotate the webhook certificate in a Secret and inject its CA into the webhook configuration; "+
			"false when cert-manager (or another issuer) provides both")
	flag.StringVar(&f.webhookService, "webhook-service", "opdomain-webhook-service", "Service in front of the webhook server, in the manager's namespace")
	flag.StringVar(&f.webhookSecret, "webhook-cert-secret", "opdomain-webhook-certs", "Secret, in the manager's namespace, holding the self-signed webhook certificate")
	flag.StringVar(&f.disclosureAddr, "disclosure-bind-address", ":8090", "address the public disclosure page (HTML at /, JSON at /disclosure.json) "+
		"is served on, read-only and without credentials; empty serves none")
	flag.StringVar(&f.recorderURL, "recorder-url", "", "the recorder's "+records.AppendPath+" endpoint (https://SERVICE.NAMESPACE.svc"+records.AppendPath+
		"), when the recorder (`manager recorder`) keeps the records instead of --records-dir: the manager's own records (a grant token's use) go there, "+
		"with --audit-token-file, trusting the webhook certificate's CA (ca.crt in --webhook-cert-dir); its host is added to the self-signed certificate")
	flag.BoolVar(&f.recordsAPI, "records-api", false, "the APIService "+records.APIServiceName+" (the records' API, answered on the webhook port) "+
		"is installed: inject the self-signed CA into it too")
	flag.StringVar(&f.webhookConfiguration, "webhook-configuration", "opdomain-validating-webhook-configuration", "ValidatingWebhookConfiguration whose CA bundle the self-signed CA is injected into")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(f); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

// bindServing binds what the manager and the recorder both serve: probes, metrics, the webhook
// server, and leader election.
func (f *flags) bindServing(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "address the metrics endpoint binds to, HTTPS, for callers allowed to get /metrics; 0 disables it")
	fs.StringVar(&f.metricsCertDir, "metrics-cert-dir", "", "directory holding the metrics endpoint's tls.crt and tls.key; empty: a self-signed certificate")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address the health probes bind to")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.IntVar(&f.webhookPort, "webhook-port", 9443, "port the webhook server listens on")
	fs.StringVar(&f.certDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding the webhook server's tls.crt and tls.key")
}

// bindRecords binds where the operation records are kept, by the manager itself or the recorder.
func (f *flags) bindRecords(fs *flag.FlagSet) {
	fs.StringVar(&f.recordsDir, "records-dir", "", "directory (a volume) where the domains' operation records are appended, received from the API server's "+
		"audit webhook backend at "+records.Path+" on the webhook port; empty keeps none")
	fs.StringVar(&f.recordsBucket, "records-bucket", "", recordsBucketUsage+"; empty keeps every day on the --records-dir volume")
	fs.DurationVar(&f.anchorEvery, "records-anchor-interval", time.Hour, "how often each domain's newest operation record is anchored in its status, "+
		"beyond the records' own volume (at least daily, as the records' retention needs)")
	fs.StringVar(&f.auditTokenFile, "audit-token-file", "", "file holding the bearer token the API server's audit webhook configuration presents; "+
		"required with --records-dir and --recorder-url")
}

// flags are the manager's command-line settings.
type flags struct {
	metricsAddr, metricsCertDir, probeAddr, kubeconfigServer, dnsNamespace, dnsLabels string
	introspectionLabels, fenceImage, fenceTarget, airlockImage                        string
	certDir, webhookService, webhookSecret, webhookConfiguration                      string
	recordsDir, recordsBucket, auditTokenFile, disclosureAddr, recorderURL, operator  string
	leaderElect, selfSignedCerts, recordsAPI                                          bool
	workers, webhookPort                                                              int
	grantKeyRotation, anchorEvery                                                     time.Duration
}

func run(f flags) error {
	dnsLabels, err := labelSet("--dns-pod-labels", f.dnsLabels)
	if err != nil {
		return err
	}
	dns := policy.DNS{Namespace: f.dnsNamespace, PodLabels: dnsLabels}
	if f.webhookPort < 1 || f.webhookPort > 65535 {
		return fmt.Errorf("--webhook-port %d is not a port", f.webhookPort)
	}
	introspection := policy.Peer{Namespace: os.Getenv("POD_NAMESPACE"), Port: int32(f.webhookPort)}
	var endpoint grant.Endpoint
	if introspection.Namespace != "" {
		endpoint = grant.Endpoint{
			URL:          "https://" + f.webhookService + "." + introspection.Namespace + ".svc" + grant.IntrospectionPath,
			CABundleFrom: f.webhookConfiguration,
		}
	}
	if f.introspectionLabels != "" {
		if introspection.PodLabels, err = labelSet("--introspection-pod-labels", f.introspectionLabels); err != nil {
			return err
		}
	}
	cfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(cfg, managerOptions(f, "opdomain.io"))
	if err != nil {
		return err
	}
	fenced := fence.Config{Image: f.fenceImage, Target: f.fenceTarget}
	if fenced.Enabled() && fenced.Target == "" {
		if fenced.Target, err = webhookServiceAddress(mgr.GetAPIReader(), introspection.Namespace, f.webhookService); err != nil {
			return fmt.Errorf("--fence-target: %w", err)
		}
	}
	certsReady, err := webhookCertificates(mgr, f)
	if err != nil {
		return err
	}
	target, err := controllers.KubeconfigTargetFor(cfg, f.kubeconfigServer)
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	base, err := recordsOptions(ctx, f)
	if err != nil {
		return err
	}
	opts := controllers.Options{
		Clock: base.Clock, Records: base.Records, Recorder: base.Recorder,
		DNS: dns, Introspection: introspection, IntrospectionEndpoint: endpoint, Kubeconfig: target, WorkspaceWorkers: f.workers, GrantKeyRotation: f.grantKeyRotation,
		Fence: fenced, AirlockImage: f.airlockImage, Disclosure: f.disclosureAddr,
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		return err
	}
	return serve(ctx, mgr, certsReady, func() error { return controllers.SetupWebhooks(ctx, mgr, opts) })
}

// runRecorder keeps the domains' operation records apart from the manager: `manager recorder
// --records-dir DIR --audit-token-file FILE`. It receives the API server's audit events and the
// manager's own records, serves the records' API, and keeps the records (retention, archive,
// anchors); it is the one process that writes the records' volume, so that the manager itself
// can run as several replicas.
func runRecorder(args []string) int {
	fs := flag.NewFlagSet("recorder", flag.ExitOnError)
	var f flags
	f.bindServing(fs)
	f.bindRecords(fs)
	fs.StringVar(&f.operator, "operator", "", "the manager's user name, whose reads are its bookkeeping and not recorded "+
		"(default: the recorder's own, as when the manager keeps the records itself)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(args)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := record(f); err != nil {
		ctrl.Log.WithName("setup").Error(err, "recorder stopped")
		return 1
	}
	return 0
}

func record(f flags) error {
	if f.recordsDir == "" {
		return errors.New("--records-dir is required: the recorder keeps records there")
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), managerOptions(f, "records.opdomain.io"))
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	opts, err := recordsOptions(ctx, f)
	if err != nil {
		return err
	}
	if err := controllers.SetupRecorder(mgr, opts); err != nil {
		return err
	}
	// The manager issues the certificate (or cert-manager does): the recorder waits for it.
	return serve(ctx, mgr, certificateFiles(ctx, f.certDir), func() error { return controllers.SetupRecorderWebhooks(ctx, mgr, opts) })
}

// recordsOptions are what the manager and the recorder both start from: the clock, and where
// the records are kept (--records-dir) or sent (--recorder-url).
func recordsOptions(ctx context.Context, f flags) (controllers.Options, error) {
	recorded, err := recordsConfig(ctx, f)
	if err != nil {
		return controllers.Options{}, err
	}
	opts := controllers.Options{Clock: clock.RealClock{}, Records: recorded}
	if f.recorderURL != "" {
		if opts.Recorder, err = recorderConfig(f); err != nil {
			return controllers.Options{}, err
		}
	}
	return opts, nil
}

// managerOptions are the manager's and the recorder's: leaderID names the lease each elects
// its leader by.
func managerOptions(f flags, leaderID string) ctrl.Options {
	return ctrl.Options{
		Scheme:                 controllers.Scheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                controllers.MetricsServer(f.metricsAddr, f.metricsCertDir),
		HealthProbeBindAddress: f.probeAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       leaderID,
		// A replica stopping hands over at once instead of leaving the others to wait out the
		// lease: every reconcile that cuts access waits for a leader. Safe: main returns as
		// soon as the manager stops.
		LeaderElectionReleaseOnCancel: true,
		WebhookServer: webhook.NewServer(webhook.Options{
			Port: f.webhookPort, CertDir: f.certDir, TLSOpts: []func(*tls.Config){records.RequestClientCertificates},
		}),
	}
}

// serve registers the webhooks once the webhook server's certificate is on disk, and runs mgr
// until ctx ends. Until the webhook server serves, the process is not ready, and the API server
// refuses what it would validate.
func serve(ctx context.Context, mgr ctrl.Manager, certsReady <-chan struct{}, webhooks func() error) error {
	go func() {
		select {
		case <-certsReady:
		case <-ctx.Done():
			return
		}
		if err := webhooks(); err != nil {
			ctrl.Log.WithName("setup").Error(err, "registering the webhooks")
			os.Exit(1)
		}
	}()
	webhookServing := func(req *http.Request) error {
		select {
		case <-certsReady:
			return mgr.GetWebhookServer().StartedChecker()(req)
		default:
			return errors.New("webhook certificate not ready")
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", webhookServing); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// certificateFiles returns a channel closed once dir holds a serving certificate and its key,
// as a Secret volume does a moment after its issuer first fills the Secret.
func certificateFiles(ctx context.Context, dir string) <-chan struct{} {
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		for {
			_, crt := os.Stat(filepath.Join(dir, "tls.crt"))
			_, key := os.Stat(filepath.Join(dir, "tls.key"))
			if crt == nil && key == nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return ready
}

// recordsBucketUsage describes --records-bucket, the same for the manager and its commands.
const recordsBucketUsage = "S3-compatible bucket with object lock, https://HOST[:PORT]/BUCKET, that keeps each day of operation records " +
	"once it is over, locked (COMPLIANCE) until its retention runs out; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"

// recordsConfig reads where operation records go and the token their sender presents, and
// connects to their archive: a manager that cannot reach it, or finds it without object lock,
// does not start.
func recordsConfig(ctx context.Context, f flags) (controllers.Records, error) {
	if f.recordsDir == "" {
		return controllers.Records{}, nil
	}
	token, err := auditToken(f, "--records-dir")
	if err != nil {
		return controllers.Records{}, err
	}
	var archive *records.Archive
	if f.recordsBucket != "" {
		if archive, err = records.NewArchive(ctx, f.recordsBucket); err != nil {
			return controllers.Records{}, fmt.Errorf("--records-bucket: %w", err)
		}
	}
	return controllers.Records{Dir: f.recordsDir, Token: token, AnchorEvery: f.anchorEvery, Archive: archive, Operator: f.operator}, nil
}

// recorderConfig is the recorder the manager sends its own records to (--recorder-url).
func recorderConfig(f flags) (*records.Remote, error) {
	token, err := auditToken(f, "--recorder-url")
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(f.recorderURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--recorder-url %q is not an https URL", f.recorderURL)
	}
	return &records.Remote{URL: f.recorderURL, CAFile: filepath.Join(f.certDir, "ca.crt"), Token: token}, nil
}

// auditToken is the token in --audit-token-file, which records are written with (by the API
// server, and the manager), as needer requires.
func auditToken(f flags, needer string) (string, error) {
	if f.auditTokenFile == "" {
		return "", errors.New(needer + " needs --audit-token-file: records are taken only from who presents it")
	}
	token, err := os.ReadFile(f.auditTokenFile)
	if err != nil {
		return "", fmt.Errorf("--audit-token-file: %w", err)
	}
	return strings.TrimSpace(string(token)), nil
}

// webhookServiceAddress is the cluster IP and port of the manager's webhook Service, the fence's
// default target: an address, so that the fence needs no DNS, which a domain may contain.
func webhookServiceAddress(c client.Reader, namespace, name string) (string, error) {
	if namespace == "" {
		return "", errors.New("required outside a pod (POD_NAMESPACE unset) when --fence-image is set")
	}
	var svc corev1.Service
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, &svc); err != nil {
		return "", fmt.Errorf("reading the webhook Service: %w", err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
		return "", fmt.Errorf("the webhook Service %s/%s has no cluster IP and port", namespace, name)
	}
	return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port))), nil
}

// labelSet parses comma-separated key=value labels.
func labelSet(flagName, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not key=value", flagName, kv)
		}
		out[k] = v
	}
	return out, nil
}

// webhookCertificates returns a channel closed once the webhook's serving certificate is in
// f.certDir: issued by the manager itself, or by cert-manager.
func webhookCertificates(mgr ctrl.Manager, f flags) (<-chan struct{}, error) {
	if !f.selfSignedCerts {
		return certificateFiles(context.Background(), f.certDir), nil
	}
	var recorder []string
	if u, err := url.Parse(f.recorderURL); err == nil && u.Hostname() != "" {
		// The recorder serves with the same certificate, under its own Service's name.
		recorder = append(recorder, u.Hostname())
	}
	return opwebhook.ManageCertificates(mgr, opwebhook.Certificates{
		Namespace: os.Getenv("POD_NAMESPACE"), Service: f.webhookService, Secret: f.webhookSecret,
		CertDir: f.certDir, Configuration: f.webhookConfiguration, APIService: recordsAPIService(f), ExtraDNSNames: recorder,
	})
}

// recordsAPIService is the APIService of the records' API, when it is installed and records
// are kept, by the manager or its recorder.
func recordsAPIService(f flags) string {
	if (f.recordsDir == "" && f.recorderURL == "") || !f.recordsAPI {
		return ""
	}
	return records.APIServiceName
}

// runFence is a workspace pod's first init container (controllers/fence): it ends once the node's
// enforcer drops the pod's dial to --target, and never before.
func runFence(args []string) int {
	fs := flag.NewFlagSet("fence", flag.ExitOnError)
	target := fs.String("target", "", "host:port that answers unless this pod's egress is enforced")
	timeout := fs.Duration("dial-timeout", 500*time.Millisecond, "how long a dial may wait before it counts as dropped")
	_ = fs.Parse(args)
	if *target == "" {
		fmt.Fprintln(os.Stderr, "fence: --target is required")
		return 2
	}
	err := fence.Wait(ctrl.SetupSignalHandler(), *target, *timeout, func(s string) { fmt.Println("fence:", s) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "fence:", err)
		return 1
	}
	return 0
}

// runSeal is the airlock's seal (controllers/airlock): it copies one artifact out of a claim
// into the airlock and reports its digest and size as JSON in the report file, by default the
// container's termination message, which the operator reads from a pod no member can touch.
// A refusal is reported the same way, as {"error": "..."}, and exits 1.
func runSeal(args []string) int {
	fs := flag.NewFlagSet("seal", flag.ExitOnError)
	from := fs.String("from", "", "the directory the claim holding the artifact is mounted at")
	path := fs.String("path", "", "the artifact's path inside the claim")
	to := fs.String("to", "", "the new file the sealed copy is written to")
	maxBytes := fs.Int64("max-bytes", 1<<30, "the largest artifact sealed, in bytes")
	report := fs.String("report", "/dev/termination-log", "where the result is written")
	_ = fs.Parse(args)
	if *from == "" || *path == "" || *to == "" {
		fmt.Fprintln(os.Stderr, "seal: --from, --path and --to are required")
		return 2
	}
	sealed, err := airlock.Seal(*from, *path, *to, *maxBytes)
	var result any = sealed
	if err != nil {
		result = map[string]string{"error": err.Error()}
	}
	return reportResult("seal", *report, result, result, err)
}

// reportResult is how an airlock pod ends: the whole result on standard output, what the
// operator reads in the report file, and exit 1 when the step failed, 2 when it could not say.
func reportResult(step, path string, whole, reported any, failed error) int {
	out, _ := json.Marshal(whole)
	fmt.Println(string(out))
	out, _ = json.Marshal(reported)
	if err := os.WriteFile(path, out, 0o600); err != nil { //nolint:gosec // --report of the airlock pod the operator started: its termination message
		fmt.Fprintln(os.Stderr, step+":", err)
		return 2
	}
	if failed != nil {
		return 1
	}
	return 0
}

// runInspect is the airlock's inspection (controllers/airlock): it digests the sealed copy and,
// as `inspect`, runs the checks --checks describes on the same bytes; `verify` only digests. The
// whole report goes to standard output, and as much as fits into the report file, by default
// the container's termination message, which the operator reads.
func runInspect(name string, args []string) int {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	file := fs.String("file", "", "the sealed copy")
	maxBytes := fs.Int64("max-bytes", 1<<30, "the largest artifact read, in bytes")
	checks := fs.String("checks", "", "the checks to run, as JSON (controllers/airlock.CheckSpec); inspect only")
	report := fs.String("report", "/dev/termination-log", "where the result is written")
	_ = fs.Parse(args)
	var spec *airlock.CheckSpec
	if name == "inspect" {
		spec = &airlock.CheckSpec{}
		if err := json.Unmarshal([]byte(*checks), spec); err != nil {
			fmt.Fprintln(os.Stderr, "inspect: --checks:", err)
			return 2
		}
	}
	in, err := airlock.Inspect(*file, *maxBytes, spec, time.Now())
	if err != nil {
		in = airlock.Inspection{Error: err.Error()}
	}
	return reportResult(name, *report, in, in.Trim(), err)
}

// verifyEvidence checks the hash chain of a domain's TeardownRecords against the cluster
// configured by --kubeconfig or KUBECONFIG: `manager verify-evidence DOMAIN`. It exits 1 when
// a record was edited or removed out of turn, 2 when it could not check.
func verifyEvidence(args []string) int {
	fs := flag.NewFlagSet("verify-evidence", flag.ExitOnError)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(fs.Output(), "usage: manager verify-evidence [--kubeconfig PATH] [--records-dir DIR [--records-bucket URL]] DOMAIN")
	}
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: KUBECONFIG or in-cluster)")
	recordsDir := fs.String("records-dir", "", "the manager's --records-dir: check the domain's operation records too")
	bucket := fs.String("records-bucket", "", "the manager's --records-bucket")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *kubeconfig != "" {
		_ = os.Setenv("KUBECONFIG", *kubeconfig)
	}
	c, err := clusterClient()
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify-evidence:", err)
		return 2
	}
	problems, n, err := evidence.VerifyDomain(context.Background(), c, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify-evidence:", err)
		return 2
	}
	var operations int64
	if *recordsDir != "" {
		store, err := recordsStore(context.Background(), *recordsDir, *bucket)
		if err != nil {
			fmt.Fprintln(os.Stderr, "verify-evidence:", err)
			return 2
		}
		var d opv1.OperationDomain
		if err := c.Get(context.Background(), client.ObjectKey{Name: fs.Arg(0)}, &d); err != nil {
			fmt.Fprintln(os.Stderr, "verify-evidence:", err)
			return 2
		}
		st := d.Status.Records
		anchor, pruned := records.Anchor{Sequence: st.Head.Sequence, Digest: st.Head.Digest}, records.Anchor{Sequence: st.Pruned.Sequence, Digest: st.Pruned.Digest}
		if operations, err = store.Verify(context.Background(), fs.Arg(0), anchor, pruned); err != nil {
			problems = append(problems, "operation records: "+err.Error())
		}
	}
	for _, p := range problems {
		fmt.Println("TAMPERED:", p)
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Printf("evidence of domain %s is intact: %d record(s) verified\n", fs.Arg(0), n)
	if *recordsDir != "" {
		fmt.Printf("operation records of domain %s are intact up to record %d\n", fs.Arg(0), operations)
	}
	return 0
}

// recordsStore reads the records the manager keeps under dir and, with bucket, in its archive.
func recordsStore(ctx context.Context, dir, bucket string) (*records.Store, error) {
	s := &records.Store{Dir: dir}
	if bucket == "" {
		return s, nil
	}
	var err error
	s.Archive, err = records.NewArchive(ctx, bucket)
	return s, err
}

// queryRecords prints a domain's operation records that match every filter given, one JSON
// object a line: `manager records --records-dir DIR [--records-bucket URL] [--workspace W]
// [--person P] [--grant G] [--since T] [--until T] DOMAIN`.
func queryRecords(args []string) int {
	fs := flag.NewFlagSet("records", flag.ExitOnError)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(fs.Output(), "usage: manager records --records-dir DIR [--records-bucket URL] [--workspace W] [--person P] [--grant G] [--since RFC3339] [--until RFC3339] DOMAIN")
		fs.PrintDefaults()
	}
	dir := fs.String("records-dir", "", "the manager's --records-dir")
	bucket := fs.String("records-bucket", "", "the manager's --records-bucket")
	var q records.Query
	fs.StringVar(&q.Workspace, "workspace", "", "only requests made with a member credential of this DeveloperWorkspace")
	fs.StringVar(&q.Person, "person", "", "only requests of this person (a persons[].user of an agreement)")
	fs.StringVar(&q.Grant, "grant", "", "only requests on this DataGrant, and its token's uses by data services")
	fs.Func("since", "only records at or after this time (RFC 3339)", timeFlag(&q.Since))
	fs.Func("until", "only records before this time (RFC 3339)", timeFlag(&q.Until))
	_ = fs.Parse(args)
	if fs.NArg() != 1 || *dir == "" {
		fs.Usage()
		return 2
	}
	store, err := recordsStore(context.Background(), *dir, *bucket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "records:", err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	err = store.Read(context.Background(), fs.Arg(0), func(r records.Record) error {
		if !q.Match(r) {
			return nil
		}
		return out.Encode(r)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "records:", err)
		return 2
	}
	return 0
}

// timeFlag parses an RFC 3339 flag into t.
func timeFlag(t *time.Time) func(string) error {
	return func(v string) (err error) {
		*t, err = time.Parse(time.RFC3339, v)
		return err
	}
}

// clusterClient is a client of the cluster configured by KUBECONFIG or in-cluster.
func clusterClient() (client.Client, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: controllers.Scheme()})
}
