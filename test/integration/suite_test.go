// Package integration proves opdomain's behaviour against a real kube-apiserver, etcd and
// kube-controller-manager, with the operator running on a fake clock.
package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/objectstore"
	"github.com/opdomain/opdomain/test/operator"
)

var (
	cp  *controlplane.ControlPlane
	k8s client.Client
	// asReviewer acts as the operator entity's reviewer, who holds the reviewer right in every
	// namespace: grants under review are created and decided through it.
	asReviewer client.Client
	clock      *clocktesting.FakeClock

	stopManager func()
	// recordsDir is where the manager keeps the operation records the API server's audit
	// webhook backend delivers, presenting auditToken.
	recordsDir string
	// archive is the records' bucket in a real object store, when the suite has one
	// (OPDOMAIN_VERSITYGW): the manager moves each day of records there once it is over.
	// objects is that store, objectsDir where it keeps them.
	archive    *records.Archive
	objects    *objectstore.Store
	objectsDir string
	// disclosureAddr is where the manager serves the public disclosure page; metricsAddr its
	// metrics.
	disclosureAddr, metricsAddr string
)

// freeAddress is a loopback address with a port free now.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

const auditToken = "audit-webhook-test-token"

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	var err error
	if recordsDir, err = os.MkdirTemp("", "opdomain-records-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := startArchive(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, addr := range []*string{&disclosureAddr, &metricsAddr} {
		if *addr, err = freeAddress(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	cp, err = controlplane.Start(controllers.Scheme(), controlplane.WithAudit(auditToken))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = cp.Client
	if asReviewer, err = reviewerClient(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = cp.Stop()
		os.Exit(1)
	}
	clock = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	if err := startManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = cp.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if theVerifier.bin != "" {
		_ = os.RemoveAll(filepath.Dir(theVerifier.bin))
	}
	stopManager()
	for _, c := range []*controlplane.ControlPlane{cp, unaudited} {
		if c == nil {
			continue
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if objects != nil {
		objects.Stop()
	}
	_ = os.RemoveAll(recordsDir)
	_ = os.RemoveAll(objectsDir)
	os.Exit(code)
}

// startArchive runs the records' object store and makes their bucket, with object lock, when
// the suite has the store's binary; the process (and the commands it runs) gets its
// credentials.
func startArchive() error {
	bin := os.Getenv(objectstore.BinaryEnv)
	if bin == "" {
		fmt.Fprintln(os.Stderr, "no object store ("+objectstore.BinaryEnv+" is not set): the manager keeps every day of records on its volume")
		return nil
	}
	var err error
	if objectsDir, err = os.MkdirTemp("", "opdomain-objects-"); err != nil {
		return err
	}
	if objects, err = objectstore.Run(bin, objectsDir, io.Discard); err != nil {
		return err
	}
	url, err := objects.MakeBucket("records", true)
	if err != nil {
		return err
	}
	for k, v := range objects.Credentials() {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	archive, err = records.NewArchive(context.Background(), url)
	return err
}

// recordsFlags are the flags that tell the manager's commands where the suite's records are.
func recordsFlags() []string {
	if archive == nil {
		return []string{"--records-dir", recordsDir}
	}
	return []string{"--records-dir", recordsDir, "--records-bucket", archive.URL()}
}

// introspectionPeer is where the manager would run in a cluster, as the chart installs it.
var introspectionPeer = policy.Peer{Namespace: "opdomain-system", PodLabels: map[string]string{"app.kubernetes.io/name": "opdomain"}, Port: 9443}

// introspectionEndpoint is the webhook server as the API server calls it, and the webhook
// configuration envtest installed with its CA.
func introspectionEndpoint() grant.Endpoint {
	return grant.Endpoint{
		URL:          cp.WebhookURL(grant.IntrospectionPath),
		CABundleFrom: "validating-webhook-configuration",
	}
}

// startManager runs the operator as main.go does, on the fake clock. stopManager stops it and
// waits until it has stopped, so a test can restart it as a crash would.
func startManager() error {
	var err error
	stopManager, err = operator.Start(cp, controllers.Options{
		Clock: clock, DNS: policy.KubeDNS, GrantKeyRotation: time.Hour,
		Introspection: introspectionPeer, IntrospectionEndpoint: introspectionEndpoint(), Fence: testFence,
		Records: controllers.Records{Dir: recordsDir, Token: auditToken, Archive: archive}, Disclosure: disclosureAddr,
	}, operator.WithMetrics(metricsAddr))
	return err
}

// reviewerClient impersonates reviewer and binds the reviewer ClusterRole to them.
func reviewerClient() (client.Client, error) {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: controlplane.ReviewerRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: reviewer}},
	}
	if err := k8s.Create(context.Background(), binding); err != nil {
		return nil, err
	}
	return impersonating(reviewer)
}

// impersonating is a client acting as user, with only the rights RBAC gives that user.
func impersonating(user string) (client.Client, error) {
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return client.New(cfg, client.Options{Scheme: controllers.Scheme()})
}

// operatorUser is the identity the operator runs as; the tests act as another.
const operatorUser = operator.User

// zapLevel keeps the operator to errors unless OPDOMAIN_TEST_LOG=debug.
func zapLevel() zapcore.Level {
	if os.Getenv("OPDOMAIN_TEST_LOG") == "debug" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
