// Package e2e proves opdomain's boundary on a real node (test/node): real pods in real
// workspaces, and packets that arrive or do not, with the operator reconciling against the same
// control plane. The node enforces Kubernetes NetworkPolicies only (its kernel cannot run
// Cilium's datapath); the Cilium rendering stays proven by Cilium's own parser.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/node"
	"github.com/opdomain/opdomain/test/operator"
)

var (
	cp  *controlplane.ControlPlane
	k8s client.Client
	nd  *node.Node
	ctx = context.Background()
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run starts the control plane, the node and the operator, runs the tests and stops all three,
// whatever happened.
func run(m *testing.M) (code int, err error) {
	if cp, err = controlplane.Start(controllers.Scheme(), controlplane.WithWorkloadControllers()); err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, cp.Stop()) }()
	k8s = cp.Client
	if nd, err = node.Start(cp); err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, nd.Stop()) }()
	// The fence dials the outside host: the one address the suite knows answers every pod whose
	// egress is not enforced, and no workspace may reach.
	stop, err := operator.Start(cp, controllers.Options{
		Clock: clock.RealClock{}, DNS: policy.KubeDNS, GrantKeyRotation: time.Hour,
		Fence: fence.Config{Image: node.ManagerImage, Target: node.OutsideAddr},
	})
	if err != nil {
		return 0, err
	}
	defer stop()
	return m.Run(), nil
}
