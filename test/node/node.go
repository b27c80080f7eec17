// Package node runs a real single-node cluster around a test control plane: Debian's containerd,
// runc and CNI plugins, and kubelet, kube-scheduler and kube-proxy built by hack/setup-node.sh,
// with the suite's own images imported, so that pods really run and packets really flow. It
// changes host-wide state (a bridge, netfilter rules, mounts, cgroups), so there is one node per
// machine, shared by a suite; Stop removes all of it. It needs root.
package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opdomain/opdomain/test/controlplane"
)

const (
	// Name is the node's name.
	Name = "opdomain-node"
	// PodCIDR is where pods get their addresses.
	PodCIDR = "10.244.0.0/24"
	// bridge is the CNI bridge the pods hang on; a name of its own, so that nothing else on the
	// host is touched.
	bridge = "opd0"
	// BinEnv names the variable holding the directory hack/setup-node.sh prints.
	BinEnv = "OPDOMAIN_NODE_BIN"
)

// Node is a running node.
type Node struct {
	dir, bin string
	cp       *controlplane.ControlPlane
	// procs in start order; Stop ends them in reverse.
	procs []*process
	// runs counts Run's pods, for their names.
	runs int
	// ipForward is the host's forwarding setting before the node changed it.
	ipForward []byte
	// lock is held while the node runs: one node per machine.
	lock *os.File
	// stopVolumes stops the volume provisioner (startVolumes).
	stopVolumes func()
}

// machineLock is the file whose lock a running node holds.
const machineLock = "/run/opdomain-node.lock"

// claimMachine takes the machine for one node, or says that another node has it (the kubelet's
// ports, the bridge and the outside host exist once per machine).
func claimMachine() (*os.File, error) {
	f, err := os.OpenFile(machineLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("another node runs on this machine (%s is locked): run the node's suites one at a time", machineLock)
	}
	return f, nil
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	// exited is closed once the process has ended and been reaped.
	exited chan struct{}
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// APIServerIP is where the API server serves for the node's pods to reach it: an address of
// no network the cluster uses, which Claim gives the host (controlplane.WithAddress).
const APIServerIP = "10.97.0.1"

// apiAddr is APIServerIP as the host holds it: on its loopback device, as the kernel of these
// machines makes no dummy devices; packets from pods arrive for it all the same.
const apiAddr = APIServerIP + "/32"

// serviceCIDR is the API server's Service address range (envtest's default), ClusterDNSIP's.
const serviceCIDR = "10.0.0.0/24"

// Claim takes the machine for one node and gives the host the API server's address; start the
// control plane with ControlPlane() next, then Start. Stop stops the node and removes what it
// made on the host; Release, once the control plane has stopped too, gives the machine back.
func Claim() (_ *Node, err error) {
	bin := os.Getenv(BinEnv)
	if bin == "" {
		return nil, errors.New(BinEnv + " is not set: run `make test`, or export " + BinEnv + "=$(hack/setup-node.sh)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a real node needs root: it mounts, makes a bridge and sets netfilter rules")
	}
	lock, err := claimMachine()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "opdomain-node-")
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	n := &Node{dir: dir, bin: bin, lock: lock}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop(), n.Release())
		}
	}()
	if out, err := exec.Command("ip", "addr", "add", apiAddr, "dev", "lo").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("giving the host the API server's address %s: %w: %s", apiAddr, err, out)
	}
	// Service addresses are the host's own until kube-proxy sends them on, from before the API
	// server starts: one nobody serves yet refuses, as in a cluster, instead of reaching
	// whatever answers beyond this machine's default route, where a client (the API server's
	// audit backend) would keep its connection.
	if out, err := exec.Command("ip", "route", "add", "local", serviceCIDR, "dev", "lo").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("routing the Service range %s to the host: %w: %s", serviceCIDR, err, out)
	}
	return n, nil
}

// ControlPlane is the option that makes a control plane this node can serve.
func (n *Node) ControlPlane() controlplane.Option {
	return controlplane.WithAddress(APIServerIP)
}

// Start brings containerd, the kubelet, kube-scheduler and kube-proxy up against cp, waits
// until the node is Ready and untainted (cp must run the workload controllers, the node
// lifecycle among them), runs the volume provisioner, the cluster's resolver and the
// NetworkPolicy enforcer, and makes the outside host (a TCP server and the upstream resolver)
// and the node's listener. On error nothing is left running.
func (n *Node) Start(cp *controlplane.ControlPlane) (err error) {
	n.cp = cp
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop())
		}
	}()
	dir, bin := n.dir, n.bin
	archive, err := buildImages(dir, bin)
	if err != nil {
		return err
	}
	if err := n.startContainerd(); err != nil {
		return err
	}
	if out, err := exec.Command("ctr", "--address", n.socket(), "-n", "k8s.io", "images", "import", archive).CombinedOutput(); err != nil {
		return fmt.Errorf("importing the suite's images: %w: %s", err, out)
	}
	if err := n.startKubernetes(); err != nil {
		return err
	}
	if err := n.waitReady(); err != nil {
		return err
	}
	if err := n.startVolumes(); err != nil {
		return err
	}
	if err := n.startClusterDNS(); err != nil {
		return err
	}
	if err := n.startEnforcer(); err != nil {
		return err
	}
	return n.startOutside()
}

const (
	// OutsideAddr is a host outside the cluster, in a network namespace of its own behind the
	// node (as the internet or a neighbour's network would be): it answers TCP there.
	OutsideAddr = "192.168.250.2:8080"
	// OutsideCIDR is the network of the outside host and the node's side of its link.
	OutsideCIDR = "192.168.250.0/30"
	// NodeAddr is the node itself as a pod would address it: a process of the node answering TCP.
	NodeAddr     = "192.168.250.1:8081"
	outsideNetns = "opd-outside"
	outsideLink  = "opd-out0"
)

// startOutside makes the outside host and the node's own listener, and lets the node route (as
// the CNI bridge's gateway would anyway); Stop puts the forwarding setting back.
func (n *Node) startOutside() error {
	forward, err := os.ReadFile(ipForward)
	if err != nil {
		return err
	}
	n.ipForward = forward
	for _, args := range [][]string{
		{"netns", "add", outsideNetns},
		{"link", "add", outsideLink, "type", "veth", "peer", "name", "opd-out1"},
		{"link", "set", "opd-out1", "netns", outsideNetns},
		{"addr", "add", "192.168.250.1/30", "dev", outsideLink},
		{"link", "set", outsideLink, "up"},
		{"-n", outsideNetns, "addr", "add", "192.168.250.2/30", "dev", "opd-out1"},
		{"-n", outsideNetns, "link", "set", "opd-out1", "up"},
		{"-n", outsideNetns, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %w: %s", args, err, out)
		}
	}
	if err := os.WriteFile(ipForward, []byte("1\n"), 0o644); err != nil {
		return err
	}
	agent := n.path("agent")
	if err := n.start("outside-host", "ip", "netns", "exec", outsideNetns, agent, "serve", ":8080"); err != nil {
		return err
	}
	if err := n.start(upstreamProcess, "ip", "netns", "exec", outsideNetns, agent, "upstream", UpstreamResolver); err != nil {
		return err
	}
	return n.start("node-listener", agent, "serve", NodeAddr)
}

const ipForward = "/proc/sys/net/ipv4/ip_forward"

func (n *Node) path(elem ...string) string { return filepath.Join(append([]string{n.dir}, elem...)...) }

func (n *Node) socket() string { return n.path("containerd.sock") }

// start runs a command with its output in a log file beside the node's state.
func (n *Node) start(name string, args ...string) error {
	log := n.path(name + ".log")
	f, err := os.Create(log)
	if err != nil {
		return err
	}
	// The child keeps its own descriptor; ours is only for handing over.
	defer func() { _ = f.Close() }()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that a test's Ctrl-C reaches Stop rather than the node first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	n.procs = append(n.procs, p)
	return nil
}

func (n *Node) startContainerd() error {
	for _, d := range []string{"cni", "cni-ipam", "containerd/root", "containerd/state"} {
		if err := os.MkdirAll(n.path(d), 0o700); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # The sandbox cannot lower its own oom_score_adj without CAP_SYS_RESOURCE, which a
  # virtualized root may lack; every sandbox would fail to start.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %q
`, n.path("containerd/root"), n.path("containerd/state"), n.socket(), PauseImage, n.path("cni"), n.path("runc"))
	if err := os.WriteFile(n.path("containerd.toml"), []byte(config), 0o600); err != nil {
		return err
	}
	cni := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "opdomain",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}`, bridge, n.path("cni-ipam"), PodCIDR)
	if err := os.WriteFile(n.path("cni", "10-opdomain.conflist"), []byte(cni), 0o600); err != nil {
		return err
	}
	if err := n.start("containerd", "containerd", "--config", n.path("containerd.toml")); err != nil {
		return err
	}
	return poll(30*time.Second, "containerd to answer", func() error {
		return exec.Command("ctr", "--address", n.socket(), "version").Run()
	})
}

func (n *Node) startKubernetes() error {
	kubeconfig := func(user string) (string, error) {
		raw, err := n.cp.KubeConfig(user)
		if err != nil {
			return "", err
		}
		path := n.path(strings.ReplaceAll(user, ":", "-") + ".kubeconfig")
		return path, os.WriteFile(path, raw, 0o600)
	}
	kubelet, err := kubeconfig("system:node:" + Name)
	if err != nil {
		return err
	}
	scheduler, err := kubeconfig("system:kube-scheduler")
	if err != nil {
		return err
	}
	proxy, err := kubeconfig("system:kube-proxy")
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
# The machines this runs on have cgroup v1 only.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podCIDR: %s
clusterDomain: cluster.local
clusterDNS: [%s]
podLogsDir: %s
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
authorization: {mode: Webhook}
# The suite's images are imported, never pulled: they must never be collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
`, n.socket(), PodCIDR, ClusterDNSIP, n.path("pod-logs"))
	if err := os.WriteFile(n.path("kubelet.yaml"), []byte(config), 0o600); err != nil {
		return err
	}
	if err := n.start("kubelet", filepath.Join(n.bin, "kubelet"),
		"--config="+n.path("kubelet.yaml"), "--kubeconfig="+kubelet, "--root-dir="+n.path("kubelet"),
		"--cert-dir="+n.path("kubelet", "pki"), "--hostname-override="+Name,
	); err != nil {
		return err
	}
	if err := n.start("kube-scheduler", filepath.Join(n.bin, "kube-scheduler"),
		"--kubeconfig="+scheduler, "--authentication-kubeconfig="+scheduler, "--authorization-kubeconfig="+scheduler,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
	); err != nil {
		return err
	}
	// nftables mode (this kernel has no IPVS), and no attempt to raise its own OOM protection or
	// the conntrack table, which a virtualized root may not do.
	return n.start("kube-proxy", filepath.Join(n.bin, "kube-proxy"),
		"--kubeconfig="+proxy, "--proxy-mode=nftables", "--cluster-cidr="+PodCIDR,
		"--hostname-override="+Name, "--oom-score-adj=0", "--conntrack-max-per-core=0",
		"--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256",
	)
}

func (n *Node) waitReady() error {
	return poll(2*time.Minute, "the node to be Ready", func() error {
		for _, p := range n.procs {
			if !p.running() {
				return permanent{fmt.Errorf("%s exited; its log:\n%s", p.name, tail(p.log))}
			}
		}
		var node corev1.Node
		if err := n.cp.Client.Get(context.Background(), client.ObjectKey{Name: Name}, &node); err != nil {
			return err
		}
		for _, taint := range node.Spec.Taints {
			if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
				return fmt.Errorf("tainted %s", taint.Key)
			}
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	})
}

// enforcerTable is the nftables table kube-network-policies keeps.
const enforcerTable = "kube-network-policies"

// startEnforcer runs kube-network-policies as its own install does, a privileged host-network
// pod in kube-system with a ServiceAccount that may read pods, namespaces, nodes and policies;
// it reaches the API server at the address the test control plane serves on (its certificate
// names no Service address). It waits until the enforcer's table is in the kernel.
func (n *Node) startEnforcer() error {
	env, err := n.cp.APIServerEnv()
	if err != nil {
		return err
	}
	const name = "kube-network-policies"
	return n.install(systemPod{
		what: "the enforcer",
		rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
		},
		pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{
				HostNetwork: true,
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{
					Name: name, Image: EnforcerImage, ImagePullPolicy: corev1.PullNever,
					Args:            []string{"--hostname-override=" + Name, "--metrics-bind-address=127.0.0.1:9080", "--v=2"},
					Env:             env,
					SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
				}},
			},
		},
		// Ready once its table is in the kernel.
		ready: func(*corev1.Pod) error {
			if out, err := exec.Command("nft", "list", "table", "inet", enforcerTable).CombinedOutput(); err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			return nil
		},
	})
}

// Stop deletes every pod (so that the CNI plugin takes its addresses and rules back), stops the
// processes, and removes what they left on the host: container shims, mounts, cgroups, the
// kubelet's iptables chains and log links, the enforcer's and kube-proxy's tables, the bridge,
// the outside host, the forwarding setting and the state directory.
func (n *Node) Stop() error {
	var errs []error
	if n.running("kubelet") {
		errs = append(errs, n.deletePods())
	}
	for _, p := range slices.Backward(n.procs) {
		if p.running() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
	}
	n.procs = nil
	if n.stopVolumes != nil {
		n.stopVolumes()
		n.stopVolumes = nil
	}
	errs = append(errs, n.killShims(), n.unmountAll(), removeCgroups("kubepods"), removeKubeChains(), n.removeLogLinks(),
		undo("No such file", "nft", "delete", "table", "inet", enforcerTable),
		undo("Cannot find device", "ip", "link", "del", bridge),
		undo("", filepath.Join(n.bin, "kube-proxy"), "--cleanup", "--proxy-mode=nftables"),
		undo("No such file", "ip", "netns", "del", outsideNetns))
	if n.ipForward != nil {
		errs = append(errs, os.WriteFile(ipForward, n.ipForward, 0o644))
	}
	errs = append(errs, os.RemoveAll(n.dir))
	// Where containerd puts its shims' sockets whatever its configuration says; removed only
	// if empty, as another containerd may use it.
	_ = os.Remove("/run/containerd/s")
	_ = os.Remove("/run/containerd")
	return errors.Join(errs...)
}

// Release takes the API server's address from the host and frees the machine: after Stop, and
// after the control plane that served on the address has stopped.
func (n *Node) Release() error {
	err := errors.Join(undo("Address not found", "ip", "addr", "del", apiAddr, "dev", "lo"),
		undo("No such process", "ip", "route", "del", "local", serviceCIDR, "dev", "lo"))
	if n.lock != nil {
		_ = n.lock.Close() // releases the lock; the file stays, so a waiting claim keeps its inode
		n.lock = nil
	}
	return err
}

// undo runs a command that removes something the node made; output containing absent (when
// not empty) says it was not there, which is no error.
func undo(absent string, args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil && (absent == "" || !strings.Contains(string(out), absent)) {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// PodLog returns what the containers of a pod wrote, read from the node's disk (the harness's
// API server cannot reach the kubelet's log endpoint), for a failing test to show.
func (n *Node) PodLog(namespace, name string) string {
	files, _ := filepath.Glob(n.path("pod-logs", namespace+"_"+name+"_*", "*", "*.log"))
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "==== %s\n%s\n", f, tail(f))
	}
	return b.String()
}

// Logs returns the end of every node process's log, for a failing test to show.
func (n *Node) Logs() string {
	var b strings.Builder
	for _, p := range n.procs {
		fmt.Fprintf(&b, "==== %s\n%s\n", p.name, tail(p.log))
	}
	return b.String()
}

func (n *Node) running(name string) bool {
	for _, p := range n.procs {
		if p.name == name && p.running() {
			return true
		}
	}
	return false
}

// deletePods deletes every pod on the node and waits until the kubelet has stopped them all.
func (n *Node) deletePods() error {
	ctx := context.Background()
	c := n.cp.Client
	// Their controllers first, or they make new pods as fast as the old ones go.
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.ReplicaSetList{}, &appsv1.StatefulSetList{}, &appsv1.DaemonSetList{}, &batchv1.JobList{}, &batchv1.CronJobList{}} {
		if err := c.List(ctx, list); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			_ = c.Delete(ctx, item.(client.Object), client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return err
	}
	for i := range pods.Items {
		_ = c.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(1))
	}
	left := func() error {
		var left corev1.PodList
		if err := n.cp.Client.List(ctx, &left); err != nil {
			return err
		}
		if len(left.Items) > 0 {
			return fmt.Errorf("%d pods left, %s/%s among them", len(left.Items), left.Items[0].Namespace, left.Items[0].Name)
		}
		return nil
	}
	if poll(time.Minute, "every pod to be gone", left) == nil {
		return nil
	}
	// A kubelet that has not confirmed a pod's end in a minute (seen once, on a machine's very
	// first node) does not get to keep the suite waiting: the pods' objects go now, and Stop
	// kills whatever containers they left (killShims).
	if err := c.List(ctx, &pods); err != nil {
		return err
	}
	for i := range pods.Items {
		_ = c.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(0))
	}
	return poll(30*time.Second, "every pod to be gone after a forced delete", left)
}

// removeLogLinks removes the links the kubelet keeps in /var/log/containers (a path it does not
// let one configure) to this node's pod logs.
func (n *Node) removeLogLinks() error {
	const links = "/var/log/containers"
	entries, err := os.ReadDir(links)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(links, e.Name()))
		if err == nil && strings.HasPrefix(target, n.dir+"/") {
			_ = os.Remove(filepath.Join(links, e.Name()))
		}
	}
	_ = os.Remove(links) // only if empty
	return nil
}

// killShims kills the runc shims of this node's containerd, which outlive it by design.
func (n *Node) killShims() error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim-runc-v2") && slices.Contains(args, n.socket()) {
			var pid int
			if _, err := fmt.Sscan(e.Name(), &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return nil
}

// unmountAll detaches every mount under the node's directory, deepest first.
func (n *Node) unmountAll() error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], n.dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the kubelet's cgroup hierarchy from every cgroup v1 controller,
// deepest first; the processes in it are gone by now.
func removeCgroups(top string) error {
	controllers, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range controllers {
		root := filepath.Join("/sys/fs/cgroup", c.Name(), top)
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// permanent is an error poll does not wait out.
type permanent struct{ error }

// removeKubeChains removes the iptables chains the kubelet keeps (KUBE-FIREWALL among them,
// which drops traffic to 127.0.0.0/8 from elsewhere) and every rule that jumps to them.
func removeKubeChains() error {
	var errs []error
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"mangle", "filter", "nat"} {
			out, err := exec.Command(cmd, "-t", table, "-S").Output()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s -t %s -S: %w", cmd, table, err))
				continue
			}
			var chains []string
			for _, line := range strings.Split(string(out), "\n") {
				fields := strings.Fields(line)
				switch {
				case len(fields) == 2 && fields[0] == "-N" && strings.HasPrefix(fields[1], "KUBE-"):
					chains = append(chains, fields[1])
				case len(fields) > 2 && fields[0] == "-A" && !strings.HasPrefix(fields[1], "KUBE-") && strings.Contains(line, " KUBE-"):
					// A rule of a built-in chain that jumps to one of them. The rule is
					// given back as -S printed it; no field holds spaces (no comments here).
					args := append([]string{"-t", table, "-D"}, fields[1:]...)
					if out, err := exec.Command(cmd, args...).CombinedOutput(); err != nil {
						errs = append(errs, fmt.Errorf("%s %v: %w: %s", cmd, args, err, out))
					}
				}
			}
			for _, op := range []string{"-F", "-X"} {
				for _, chain := range chains {
					if out, err := exec.Command(cmd, "-t", table, op, chain).CombinedOutput(); err != nil {
						errs = append(errs, fmt.Errorf("%s -t %s %s %s: %w: %s", cmd, table, op, chain, err, out))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func poll(timeout time.Duration, what string, f func() error) error {
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = f(); err == nil {
			return nil
		}
		if errors.As(err, new(permanent)) {
			return err
		}
	}
	return fmt.Errorf("waited %v for %s: %w", timeout, what, err)
}

func tail(path string) string {
	raw, _ := os.ReadFile(path)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// Dial runs a pod of the agent in namespace that dials target (host:port) once, as soon as it
// runs, and says whether the target answered.
func (n *Node) Dial(ctx context.Context, namespace, target string) (bool, error) {
	ok, _, err := n.Run(ctx, namespace, "dial", target, "2s")
	return ok, err
}

// Run runs a pod of the agent in namespace with args, waits until it has ended, deletes it,
// and says whether the agent succeeded, and its termination message (what a dial or a
// resolution found).
func (n *Node) Run(ctx context.Context, namespace string, args ...string) (bool, string, error) {
	n.runs++
	pod := RestrictedPod(namespace, fmt.Sprintf("%s-%d", args[0], n.runs), args...)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	c := n.cp.Client
	if err := c.Create(ctx, pod); err != nil {
		return false, "", err
	}
	defer func() { _ = c.Delete(ctx, pod, client.GracePeriodSeconds(0)) }()
	err := poll(time.Minute, fmt.Sprintf("agent %v in %s to end", args, namespace), func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("pod %s is %s", pod.Name, pod.Status.Phase)
		}
		return nil
	})
	var out string
	for _, st := range pod.Status.ContainerStatuses {
		if st.State.Terminated != nil {
			out = st.State.Terminated.Message
		}
	}
	return pod.Status.Phase == corev1.PodSucceeded, out, err
}

// RestrictedPod is a pod of the agent image that Pod Security `restricted` admits, running args.
func RestrictedPod(namespace, name string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To(int64(AgentUser)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "agent", Image: AgentImage, ImagePullPolicy: corev1.PullNever, Args: args,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}
