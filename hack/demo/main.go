// Command demo runs opdomain on a local control plane built from source: kube-apiserver, etcd
// and kube-controller-manager, the operator, and config/samples. It prints the workspace going
// Ready and writes kubeconfigs for an administrator and for the workspace member. With -node it
// also runs a real node (test/node; root, Debian), so that a pod in the sample workspace can be
// seen failing to get out, and with -product the sample data product is written, sealed, checked,
// reviewed and published through the airlock. Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/workspace"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/fixtures"
	"github.com/opdomain/opdomain/test/node"
	"github.com/opdomain/opdomain/test/operator"
)

func main() {
	lifecycle := flag.Bool("lifecycle", false, "after the workspace is Ready, walk its agreement through suspension, restoration and termination")
	withNode := flag.Bool("node", false, "run a real node too (root; OPDOMAIN_NODE_BIN from hack/setup-node.sh), and print how to watch a workspace pod fail to get out")
	withProduct := flag.Bool("product", false, "with -node: write the sample data product in the workspace and walk it through the airlock to publication "+
		"(and, with -lifecycle, its delisting when the agreement ends)")
	flag.Parse()
	if *withProduct && !*withNode {
		fmt.Fprintln(os.Stderr, "demo: -product needs -node: the airlock's pods run on the node")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *lifecycle, *withNode, *withProduct)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lifecycle, withNode, withProduct bool) error {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	var nd *node.Node
	var opts []controlplane.Option
	if withNode {
		var err error
		if nd, err = node.Claim(); err != nil {
			return err
		}
		defer func() { _ = nd.Release() }()
		opts = append(opts, controlplane.WithWorkloadControllers(), nd.ControlPlane())
	}
	say("starting kube-apiserver, etcd and kube-controller-manager")
	cp, err := controlplane.Start(controllers.Scheme(), opts...)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the control plane")
		_ = cp.Stop()
	}()
	var fenced fence.Config
	var airlock string
	if withNode {
		say("starting the node: containerd, kubelet, kube-scheduler, kube-proxy and the NetworkPolicy enforcer")
		if err := nd.Start(cp); err != nil {
			return err
		}
		defer func() {
			say("stopping the node")
			_ = nd.Stop()
		}()
		// The fence dials the node's outside host, which answers every pod not yet held.
		fenced = fence.Config{Image: node.ManagerImage, Target: node.OutsideAddr}
		airlock = node.ManagerImage
	}

	dir, err := os.MkdirTemp("", "opdomain-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	admin, err := cp.KubeConfig("admin")
	if err != nil {
		return err
	}
	adminPath := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(adminPath, admin, 0o600); err != nil {
		return err
	}

	say("starting the opdomain manager")
	stopManager, err := operator.Start(cp, controllers.Options{Clock: clock.RealClock{}, DNS: policy.KubeDNS, Fence: fenced, AirlockImage: airlock})
	if err != nil {
		return err
	}
	defer stopManager()

	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	say("applying config/samples")
	apply := exec.CommandContext(ctx, kubectl, "--kubeconfig", adminPath, "apply", "-k", filepath.Join(root, "config", "samples"))
	apply.Stdout, apply.Stderr = os.Stdout, os.Stderr
	if err := apply.Run(); err != nil {
		return fmt.Errorf("kubectl apply: %w", err)
	}
	say("the reviewer approves the sample grant, as themselves")
	review := exec.CommandContext(ctx, kubectl, "--kubeconfig", adminPath, "-n", "jiangsu-control", "patch", "datagrant/congestion-forecast",
		"--as", sampleReviewer, "--type", "merge", "-p", `{"spec":{"review":{"reviewer":"`+sampleReviewer+`","decision":"Approved"}}}`)
	review.Stdout, review.Stderr = os.Stdout, os.Stderr
	if err := review.Run(); err != nil {
		return fmt.Errorf("kubectl patch (review): %w", err)
	}

	c := cp.Client
	domain := &opv1.OperationDomain{}
	domain.Name = "jiangsu"
	if err := waitReady(ctx, c, domain, func() []metav1.Condition { return domain.Status.Conditions }); err != nil {
		return err
	}
	say("OperationDomain jiangsu is Ready: namespaces %v isolated (%s)", namespaces(domain), domain.Spec.NetworkPolicy)
	say("policy in force under rulebook %s:", domain.Status.Policy.Rulebook)
	for _, v := range domain.Status.Policy.Values {
		say("  %-40s %-28s %s", v.Name, v.Value, v.Source)
	}
	ws := &opv1.DeveloperWorkspace{}
	ws.Name, ws.Namespace = "acme-dev", "jiangsu-control"
	if err := waitReady(ctx, c, ws, func() []metav1.Condition { return ws.Status.Conditions }); err != nil {
		return err
	}
	cred := ws.Status.Credentials[0]
	say("DeveloperWorkspace acme-dev is Ready in namespace %s", ws.Status.Namespace)
	say("credential of %s expires at %s, renewed at %s", cred.Member, cred.ExpiresAt.UTC().Format(time.RFC3339), cred.RenewAt.UTC().Format(time.RFC3339))

	grant := &opv1.DataGrant{}
	grant.Name, grant.Namespace = "congestion-forecast", "jiangsu-control"
	if err := waitReady(ctx, c, grant, func() []metav1.Condition { return grant.Status.Conditions }); err != nil {
		return err
	}
	say("DataGrant congestion-forecast is %s until %s: %d object(s) opened, token signed by key %s",
		grant.Status.Phase, grant.Status.ExpiresAt.UTC().Format(time.RFC3339), len(grant.Status.Opened), grant.Status.Credential.KeyID)
	for _, o := range grant.Status.Opened {
		say("  %s %s/%s", o.Kind, o.Namespace, o.Name)
	}

	memberPath := filepath.Join(dir, "member.kubeconfig")
	if err := writeMemberKubeconfig(ctx, c, ws.Namespace, cred.SecretName, memberPath); err != nil {
		return err
	}
	fmt.Printf(`
The domain is running. Try, in another shell:

  export PATH=%s:$PATH
  kubectl --kubeconfig %s get od,authz,dws -A
  kubectl --kubeconfig %s -n %s get networkpolicies,resourcequota,rolebindings
  kubectl --kubeconfig %s -n jiangsu-control get dres,dgrant
  # as the member of a sealed workspace (the sample grant is Raw): may create and delete jobs,
  # may not read pods, their status, Events or logs; sees WorkloadSummaries instead
  kubectl --kubeconfig %s auth can-i create jobs
  kubectl --kubeconfig %s auth can-i get pods
  kubectl --kubeconfig %s get workloadsummaries
  # cut all access at once (R7), then watch the workspace
  kubectl --kubeconfig %s patch od jiangsu --type merge -p '{"spec":{"emergencyStop":{"active":true,"reason":"drill"}}}'

Ctrl-C stops everything.
`, os.Getenv("KUBEBUILDER_ASSETS"), adminPath, adminPath, ws.Status.Namespace, adminPath, memberPath, memberPath, memberPath, adminPath)

	if withNode {
		if err := showEscape(ctx, c, dir, adminPath, ws.Status.Namespace); err != nil {
			return err
		}
	}
	var product *opv1.DataProduct
	if withProduct {
		if product, err = walkProduct(ctx, cp, kubectl, adminPath, root, ws); err != nil {
			return err
		}
	}
	if lifecycle {
		if err := walkLifecycle(ctx, c, ws); err != nil {
			return err
		}
		if product != nil {
			if err := waitProduct(ctx, c, product, func() bool { return product.Status.Ended != nil && product.Status.Ended.Record != "" }); err != nil {
				return err
			}
			say("airlock: product %s %s (%s): its outbox copy is destroyed; record %s", product.Name, product.Status.Phase,
				product.Status.Ended.Reason, product.Status.Ended.Record)
		}
	}
	<-ctx.Done()
	return nil
}

// showEscape lets the node's images into the sample domain and prints how to watch a pod in the
// workspace dial a host outside the cluster and fail, beside the same pod in an ungoverned
// namespace, which gets through.
func showEscape(ctx context.Context, c client.Client, dir, adminPath, namespace string) error {
	domain := &opv1.OperationDomain{}
	if err := c.Get(ctx, client.ObjectKey{Name: "jiangsu"}, domain); err != nil {
		return err
	}
	patch := client.MergeFrom(domain.DeepCopy())
	domain.Spec.Images.AllowedRegistries = append(domain.Spec.Images.AllowedRegistries, strings.Split(node.AgentImage, "/")[0])
	if err := c.Patch(ctx, domain, patch); err != nil {
		return err
	}
	say("the sample domain now also admits images of %s, where the node's test images come from", strings.Split(node.AgentImage, "/")[0])
	paths := map[string]string{}
	for _, ns := range []string{namespace, metav1.NamespaceDefault} {
		pod := node.RestrictedPod(ns, "escape", "dial", node.OutsideAddr)
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		pod.APIVersion, pod.Kind = "v1", "Pod"
		raw, err := yaml.Marshal(pod)
		if err != nil {
			return err
		}
		paths[ns] = filepath.Join(dir, "escape-"+ns+".yaml")
		if err := os.WriteFile(paths[ns], raw, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf(`
A real node runs. A pod in the workspace dials %[1]s, a host outside the cluster, as soon as it
starts (behind its fence, which waits until the enforcer holds the pod); exit code 0 means it got
through, 2 that it did not:

  kubectl --kubeconfig %[2]s apply -f %[3]s
  kubectl --kubeconfig %[2]s -n %[4]s get pod escape -w
  kubectl --kubeconfig %[2]s -n %[4]s get pod escape -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}{"\n"}'
  # the same pod where opdomain governs nothing gets through (exit code 0)
  kubectl --kubeconfig %[2]s apply -f %[5]s
  kubectl --kubeconfig %[2]s -n default get pod escape -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}{"\n"}'

`, node.OutsideAddr, adminPath, paths[namespace], namespace, paths[metav1.NamespaceDefault])
	return nil
}

// waitReady polls until the object's Ready condition is True, printing each new reason.
func waitReady(ctx context.Context, c client.Client, obj client.Object, conds func() []metav1.Condition) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	last := ""
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err == nil {
			if ready := meta.FindStatusCondition(conds(), opv1.ConditionReady); ready != nil {
				if ready.Status == "True" {
					return nil
				}
				if line := ready.Reason + ": " + ready.Message; line != last {
					say("%T %s: %s", obj, obj.GetName(), line)
					last = line
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become Ready: %w", obj.GetName(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeMemberKubeconfig(ctx context.Context, c client.Client, namespace, name, path string) error {
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret); err != nil {
		return err
	}
	return os.WriteFile(path, secret.Data[workspace.KubeconfigKey], 0o600)
}

func namespaces(d *opv1.OperationDomain) []string {
	out := make([]string, 0, len(d.Status.Namespaces))
	for _, ns := range d.Status.Namespaces {
		out = append(out, ns.Name)
	}
	return out
}

// sampleReviewer holds the reviewer right in config/samples/09_reviewer.yaml.
const sampleReviewer = "wang@js-data-group.example"

func say(format string, args ...any) {
	fmt.Printf("[opdomain demo] "+format+"\n", args...)
}

// walkLifecycle suspends the sample agreement, lifts the suspension, then terminates it,
// printing what the operator does at each step and verifying the evidence it leaves.
func walkLifecycle(ctx context.Context, c client.Client, ws *opv1.DeveloperWorkspace) error {
	authz := &opv1.Authorization{}
	authz.Name, authz.Namespace = ws.Spec.Authorization, ws.Namespace
	setSpec := func(change func(*opv1.AuthorizationSpec)) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(authz), authz); err != nil {
			return err
		}
		patch := client.MergeFrom(authz.DeepCopy())
		change(&authz.Spec)
		return c.Patch(ctx, authz, patch)
	}
	waitPhase := func(want opv1.WorkspacePhase) error {
		for ws.Status.Phase != want {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
				return err
			}
		}
		return nil
	}

	say("lifecycle: a regulator suspends Authorization %s", authz.Name)
	if err := setSpec(func(s *opv1.AuthorizationSpec) {
		s.Suspension = &opv1.Suspension{Reason: opv1.SuspensionRegulatorOrder, Note: "demo inspection"}
	}); err != nil {
		return err
	}
	if err := waitPhase(opv1.WorkspaceSuspended); err != nil {
		return err
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(authz), authz); err != nil {
		return err
	}
	say("lifecycle: workspace Suspended: bindings and credentials revoked, pods stopped, data kept; rectification deadline %s",
		authz.Status.RectificationDeadline.UTC().Format(time.RFC3339))

	say("lifecycle: the suspension is lifted in time")
	if err := setSpec(func(s *opv1.AuthorizationSpec) { s.Suspension = nil }); err != nil {
		return err
	}
	if err := waitPhase(opv1.WorkspaceReady); err != nil {
		return err
	}
	say("lifecycle: workspace Ready again with a fresh credential for %s", ws.Status.Credentials[0].Member)

	say("lifecycle: the developer asks to end the agreement (VoluntaryRequest)")
	if err := setSpec(func(s *opv1.AuthorizationSpec) {
		s.Termination = &opv1.Termination{Reason: opv1.EndVoluntaryRequest, Note: "demo"}
	}); err != nil {
		return err
	}
	if err := waitPhase(opv1.WorkspaceTornDown); err != nil {
		return err
	}
	for _, step := range ws.Status.Teardown.Steps {
		say("lifecycle: teardown step %-10s %d object(s)", step.Name, len(step.Objects))
	}
	say("lifecycle: evidence in TeardownRecord %s", ws.Status.Teardown.Record)
	for authz.Status.TeardownRecord == "" {
		time.Sleep(100 * time.Millisecond)
		if err := c.Get(ctx, client.ObjectKeyFromObject(authz), authz); err != nil {
			return err
		}
	}
	say("lifecycle: the agreement's own record is %s", authz.Status.TeardownRecord)
	problems, n, err := evidence.VerifyDomain(ctx, c, "jiangsu")
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("evidence chain broken: %v", problems)
	}
	say("lifecycle: verify-evidence: %d record(s), chain intact", n)
	return nil
}

// walkProduct writes the sample product's artifact on a claim of the workspace, submits
// config/samples/08_dataproduct.yaml, and has the reviewer approve the digest the operator
// sealed, printing each stage of the airlock.
func walkProduct(ctx context.Context, cp *controlplane.ControlPlane, kubectl, adminPath, root string, ws *opv1.DeveloperWorkspace) (*opv1.DataProduct, error) {
	c := cp.Client
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "results", Namespace: ws.Status.Namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	if err := c.Create(ctx, claim); err != nil {
		return nil, err
	}
	writer := node.RestrictedPod(ws.Status.Namespace, "trainer", "write", "/results/congestion-v1.onnx", "ONNX congestion model v1: road-level weights, no records")
	writer.Spec.Volumes = []corev1.Volume{{Name: "results", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "results"}}}}
	writer.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "results", MountPath: "/results"}}
	if err := c.Create(ctx, writer); err != nil {
		return nil, err
	}
	for writer.Status.Phase != corev1.PodRunning {
		if err := pause(ctx); err != nil {
			return nil, err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(writer), writer); err != nil {
			return nil, err
		}
	}
	say("airlock: a workload wrote /congestion-v1.onnx on claim results; the member's team submits it")
	submit := exec.CommandContext(ctx, kubectl, "--kubeconfig", adminPath, "apply", "-f", filepath.Join(root, "config", "samples", "08_dataproduct.yaml"))
	submit.Stdout, submit.Stderr = os.Stdout, os.Stderr
	if err := submit.Run(); err != nil {
		return nil, fmt.Errorf("kubectl apply (product): %w", err)
	}
	p := &opv1.DataProduct{}
	p.Name, p.Namespace = "congestion-model-v1", ws.Namespace
	if err := waitProduct(ctx, c, p, func() bool { return p.Status.Phase == opv1.ProductInReview }); err != nil {
		return nil, err
	}
	say("airlock: sealed by the operator as %s (%d bytes), volume %s now in the airlock; checks %s:", p.Status.Sealed.SHA256, p.Status.Sealed.Size,
		p.Status.Custody.Volume, p.Status.Checks.Outcome)
	for _, f := range p.Status.Checks.Findings {
		say("airlock:   %s %s: %s", f.Outcome, f.Check, f.Message)
	}
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: sampleReviewer}
	reviewer, err := client.New(cfg, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		return nil, err
	}
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.Reviews = append(p.Spec.Reviews, fixtures.ProductReview(opv1.StageOperator, sampleReviewer, p.Status.Sealed.SHA256, opv1.DecisionApproved))
	if err := reviewer.Patch(ctx, p, patch); err != nil {
		return nil, fmt.Errorf("the review: %w", err)
	}
	say("airlock: %s approved %s on all seven review points, as themselves", sampleReviewer, p.Status.Sealed.SHA256)
	if err := waitProduct(ctx, c, p, func() bool { return p.Status.Phase == opv1.ProductPublished }); err != nil {
		return nil, err
	}
	say("airlock: published at %s, digest %s verified there; record %s", p.Status.Published.Location, p.Status.Published.SHA256, p.Status.Published.Record)
	return p, nil
}

// waitProduct polls the product until done says so, printing each new phase.
func waitProduct(ctx context.Context, c client.Client, p *opv1.DataProduct, done func() bool) error {
	last := p.Status.Phase
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if p.Status.Phase != last {
			last = p.Status.Phase
			say("airlock: product %s is %s", p.Name, last)
		}
		if done() {
			return nil
		}
		if p.Status.Phase == opv1.ProductFailed || p.Status.Phase == opv1.ProductReturned {
			return fmt.Errorf("product %s is %s: %+v", p.Name, p.Status.Phase, p.Status.Conditions)
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
}

func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}
