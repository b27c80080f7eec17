// Package operator runs opdomain's manager inside a test process, wired as main.go wires it,
// against a test control plane: under its own identity, serving the admission webhooks where the
// control plane's webhook configuration points, with member kubeconfigs aimed at that API server.
package operator

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/test/controlplane"
)

// User is the identity the operator runs as; tests act as others.
const User = "opdomain-manager"

// Option changes how the manager is built.
type Option func(*ctrl.Options)

// WithMetrics serves the manager's metrics at addr as main.go does: HTTPS, authenticated and
// authorized by the API server.
func WithMetrics(addr string) Option {
	return func(o *ctrl.Options) { o.Metrics = controllers.MetricsServer(addr, "") }
}

// Start starts the manager with opts (its Kubeconfig target defaults to the control plane's
// API server), waits until its webhook serves, and returns a function that stops it and waits
// until it has stopped, so that a test can restart it as a crash would. It serves no metrics
// unless asked (WithMetrics).
func Start(cp *controlplane.ControlPlane, opts controllers.Options, with ...Option) (stop func(), err error) {
	cfg, err := cp.UserConfig(User)
	if err != nil {
		return nil, err
	}
	options := ctrl.Options{
		Scheme:                 controllers.Scheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          cp.WebhookServer(),
		// A restarted manager registers controllers under the same names in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	for _, w := range with {
		w(&options)
	}
	mgr, err := ctrl.NewManager(cfg, options)
	if err != nil {
		return nil, err
	}
	if opts.Kubeconfig.Server == "" {
		if opts.Kubeconfig, err = controllers.KubeconfigTargetFor(cp.Config, ""); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		return nil, err
	}
	if err := controllers.SetupWebhooks(ctx, mgr, opts); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	stop = func() {
		cancel()
		<-done
	}
	// Until its webhook serves, the API server refuses every write to opdomain's kinds.
	serving := mgr.GetWebhookServer().StartedChecker()
	for deadline := time.Now().Add(30 * time.Second); serving(nil) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the manager's webhook server did not serve within 30 s: %w", serving(nil))
		}
	}
	return stop, nil
}
