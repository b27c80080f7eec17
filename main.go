// Command manager runs the opdomain operator.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/policy"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "verify-evidence" {
		os.Exit(verifyEvidence(os.Args[2:]))
	}
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address the metrics endpoint binds to; 0 disables it")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address the health probes bind to")
	flag.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	flag.IntVar(&f.workers, "workspace-workers", 4, "workspaces reconciled at once")
	flag.StringVar(&f.kubeconfigServer, "kubeconfig-server", "", "API server URL written into member kubeconfigs (default: the URL the operator uses)")
	flag.StringVar(&f.dnsNamespace, "dns-namespace", policy.KubeDNS.Namespace, "namespace of the cluster DNS pods that domain pods may reach")
	flag.StringVar(&f.dnsLabels, "dns-pod-labels", "k8s-app=kube-dns", "comma-separated key=value labels of the cluster DNS pods")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(f); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

// flags are the manager's command-line settings.
type flags struct {
	metricsAddr, probeAddr, kubeconfigServer, dnsNamespace, dnsLabels string
	leaderElect                                                       bool
	workers                                                           int
}

func run(f flags) error {
	dns := policy.DNS{Namespace: f.dnsNamespace, PodLabels: map[string]string{}}
	for _, kv := range strings.Split(f.dnsLabels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--dns-pod-labels: %q is not key=value", kv)
		}
		dns.PodLabels[k] = v
	}
	cfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 controllers.Scheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress: f.probeAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       "opdomain.io",
	})
	if err != nil {
		return err
	}
	target, err := controllers.KubeconfigTargetFor(cfg, f.kubeconfigServer)
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.Setup(ctx, mgr, controllers.Options{Clock: clock.RealClock{}, DNS: dns, Kubeconfig: target, WorkspaceWorkers: f.workers}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// verifyEvidence checks the hash chain of a domain's TeardownRecords against the cluster
// configured by --kubeconfig or KUBECONFIG: `manager verify-evidence DOMAIN`. It exits 1 when
// a record was edited or removed out of turn, 2 when it could not check.
func verifyEvidence(args []string) int {
	fs := flag.NewFlagSet("verify-evidence", flag.ExitOnError)
	fs.Usage = func() { _, _ = fmt.Fprintln(fs.Output(), "usage: manager verify-evidence [--kubeconfig PATH] DOMAIN") }
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: KUBECONFIG or in-cluster)")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *kubeconfig != "" {
		_ = os.Setenv("KUBECONFIG", *kubeconfig)
	}
	problems, n, err := readAndVerify(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify-evidence:", err)
		return 2
	}
	for _, p := range problems {
		fmt.Println("TAMPERED:", p)
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Printf("evidence of domain %s is intact: %d record(s) verified\n", fs.Arg(0), n)
	return 0
}

func readAndVerify(domain string) ([]string, int, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, 0, err
	}
	c, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		return nil, 0, err
	}
	return evidence.VerifyDomain(context.Background(), c, domain)
}
