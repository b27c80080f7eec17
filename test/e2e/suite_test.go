// Package e2e proves opdomain's boundary on a real node (test/node): real pods in real
// workspaces, and packets that arrive or do not, with the operator installed by its Helm chart
// and running as a Deployment on the node. The node enforces Kubernetes NetworkPolicies only (its kernel cannot run
// Cilium's datapath); the Cilium rendering stays proven by Cilium's own parser.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/records"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/fixtures"
	"github.com/opdomain/opdomain/test/node"
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

// run starts the control plane and the node, installs the operator, runs the tests and stops
// it all, whatever happened.
func run(m *testing.M) (code int, err error) {
	if nd, err = node.Claim(); err != nil {
		return 0, err
	}
	// Deferred first, so it runs last, once the control plane is gone.
	defer func() { err = errors.Join(err, nd.Release()) }()
	cp, err = controlplane.Start(controllers.Scheme(), controlplane.WithWorkloadControllers(), controlplane.WithoutOperatorInstall(), nd.ControlPlane(),
		controlplane.WithAuditTo("https://"+net.JoinHostPort(recorderServiceIP, "443")+records.Path, auditToken))
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, cp.Stop()) }()
	k8s = cp.Client
	if err = nd.Start(cp); err != nil {
		return 0, err
	}
	// The node stops while the control plane still runs: it deletes its pods through the API.
	defer func() { err = errors.Join(err, nd.Stop()) }()
	if chart, helmKubeconfig, err = installerFiles(); err != nil {
		return 0, err
	}
	defer func() { _ = os.Remove(helmKubeconfig) }()
	if err = install(); err != nil {
		return 0, err
	}
	if code = m.Run(); code != 0 {
		printManagerLogs()
	}
	return code, nil
}

// installerFiles are the chart's directory and a kubeconfig of the installer's, written for
// the suite.
func installerFiles() (string, string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", "", err
	}
	kubeconfig, err := cp.KubeConfig("e2e-installer")
	if err != nil {
		return "", "", err
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("opdomain-e2e-%d.kubeconfig", os.Getpid()))
	return filepath.Join(root, "charts", "opdomain"), path, os.WriteFile(path, kubeconfig, 0o600)
}

// printManagerLogs shows, after a failed run, what the installed manager said: its pods' logs
// live on the node, which is gone once the suite ends.
func printManagerLogs() {
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(installNamespace)); err != nil {
		fmt.Fprintln(os.Stderr, "listing the manager's pods:", err)
		return
	}
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			fmt.Fprintf(os.Stderr, "pod %s container %s: ready %v, restarts %d, last termination %+v\n", p.Name, c.Name, c.Ready, c.RestartCount, c.LastTerminationState.Terminated)
		}
		fmt.Fprintf(os.Stderr, "pod %s:\n%s\n", p.Name, nd.PodLog(p.Namespace, p.Name))
	}
}

// install installs opdomain as a platform engineer does: `helm install` of the chart, with the
// manager's image as `make image` builds it (the node has it), webhook certificates self-issued,
// the fence on, the in-domain resolver (CoreDNS as the node has it), and member kubeconfigs
// pointing at the API server's address. The harness installed the CRDs before the controller
// manager started (see controlplane.Start); the release adopts them, as it adopts the CRDs of a
// release of the chart that kept them in crds/.
func install() error {
	if err := adoptCRDs(); err != nil {
		return err
	}
	if err := auditSecret(); err != nil {
		return err
	}
	repository, tag, _ := strings.Cut(node.ManagerImage, ":")
	args := []string{"install", "opdomain", chart, "--namespace", installNamespace, "--create-namespace", "--wait", "--timeout", "3m",
		"--set", "image.repository=" + repository, "--set", "image.tag=" + tag, "--set", "image.pullPolicy=Never",
		"--set", "kubeconfigServer=" + cp.Config.Host,
		"--set", "dns.resolver.enabled=true", "--set", "dns.resolver.image=" + node.CoreDNSImage,
		"--set", "records.clusterIP=" + recorderServiceIP, "--set", "records.existingSecret=" + auditSecretName,
	}
	// The test API server's certificate names only the address it serves on; the manager and
	// the resolver reach it there.
	apiEnv, err := cp.APIServerEnv()
	if err != nil {
		return err
	}
	for _, list := range []string{"env", "dns.resolver.env"} {
		for i, e := range apiEnv {
			args = append(args, "--set-string", fmt.Sprintf("%[1]s[%[2]d].name=%[3]s,%[1]s[%[2]d].value=%[4]s", list, i, e.Name, e.Value))
		}
	}
	out, err := helm(args...)
	if err != nil {
		var pods corev1.PodList
		_ = k8s.List(ctx, &pods, client.InNamespace(installNamespace))
		for _, p := range pods.Items {
			out = fmt.Appendf(out, "\npod %s: %+v\n%s", p.Name, p.Status, nd.PodLog(p.Namespace, p.Name))
		}
		return fmt.Errorf("helm install: %w: %s", err, out)
	}
	return webhookReachable()
}

// The API server delivers its audit, from the start, to the chart's recorder Service at a fixed
// address (records.clusterIP), presenting the token of a Secret the installer made beforehand
// (records.existingSecret), as a cluster whose API server cannot resolve Service names is wired.
const (
	recorderServiceIP = "10.0.0.20"
	auditSecretName   = "opdomain-e2e-audit"
	auditToken        = "e2e-audit-token"
)

// auditSecret makes the install namespace and the audit token's Secret.
func auditSecret() error {
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: auditSecretName},
		StringData: map[string]string{"token": auditToken},
	}
	if err := k8s.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// chart is the chart's directory; helmKubeconfig the installer's kubeconfig, for the suite.
var chart, helmKubeconfig string

// helm runs the helm `make test` installs, as the installer.
func helm(args ...string) ([]byte, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("the suite installs the chart with %s: run `make test`, which installs it: %w", bin, err)
	}
	return exec.Command(bin, append(args, "--kubeconfig", helmKubeconfig)...).CombinedOutput()
}

var crdGVK = apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")

// adoptCRDs marks opdomain's CRDs as the release's, as README's upgrade note has an installer do
// for CRDs that a release of the chart with crds/ installed.
func adoptCRDs() error {
	var crds metav1.PartialObjectMetadataList
	crds.SetGroupVersionKind(crdGVK.GroupVersion().WithKind("CustomResourceDefinitionList"))
	if err := k8s.List(ctx, &crds); err != nil {
		return err
	}
	for i := range crds.Items {
		crd := &crds.Items[i]
		if !strings.HasSuffix(crd.Name, "."+opv1.GroupVersion.Group) {
			continue
		}
		crd.SetGroupVersionKind(crdGVK)
		patch := client.MergeFrom(crd.DeepCopy())
		metav1.SetMetaDataLabel(&crd.ObjectMeta, "app.kubernetes.io/managed-by", "Helm")
		metav1.SetMetaDataAnnotation(&crd.ObjectMeta, "meta.helm.sh/release-name", "opdomain")
		metav1.SetMetaDataAnnotation(&crd.ObjectMeta, "meta.helm.sh/release-namespace", installNamespace)
		if err := k8s.Patch(ctx, crd, patch); err != nil {
			return fmt.Errorf("adopting CRD %s: %w", crd.Name, err)
		}
	}
	return nil
}

// webhookReachable waits until the API server reaches the admission webhook through its
// Service: the manager is ready before kube-proxy has programmed the Service's new endpoint,
// and until then every write to opdomain's kinds fails, as it would for a user applying YAML
// right after the install.
func webhookReachable() error {
	// A domain the schema accepts, so that the API server goes on to call the webhook.
	probe := fixtures.Domain("webhook-probe", opv1.NetworkPolicyKubernetes)
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		err = k8s.Create(ctx, probe, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			return nil // answered: accepted, or refused on its merits
		}
	}
	return fmt.Errorf("the admission webhook was not reachable through its Service within a minute: %w", err)
}

// installNamespace is where the chart is installed.
const installNamespace = "opdomain-system"

// The chart's in-domain resolver.
const resolverNamespace, resolverName = "opdomain-dns", "opdomain-resolver"
