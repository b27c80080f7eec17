package node

import (
	"path/filepath"
	"runtime"

	"github.com/opdomain/opdomain/hack/image"
	"github.com/opdomain/opdomain/test/controlplane"
)

// The suite's images, built from test/node/agent; no registry serves them, so the node must
// never try to pull (imagePullPolicy Never, or IfNotPresent with the image imported).
const (
	PauseImage = "opdomain.test/pause:e2e"
	AgentImage = "opdomain.test/agent:e2e"
	// EnforcerImage holds kube-network-policies as hack/setup-node.sh built it.
	EnforcerImage = "opdomain.test/kube-network-policies:e2e"
	// ManagerImage is opdomain's manager, built as `make image` builds it.
	ManagerImage = "opdomain.test/manager:e2e"
	// CoreDNSImage holds CoreDNS as hack/setup-node.sh built it: the cluster's resolver, and
	// opdomain's in-domain one.
	CoreDNSImage = "opdomain.test/coredns:e2e"
	// AgentUser is the numeric user the agent runs as: non-root, so `restricted` pods admit it.
	AgentUser = 65532
)

// buildImages compiles the agent and the manager and writes the pause and agent images (one
// layer holding /agent each), the manager's, and the enforcer's and CoreDNS's (from the node's
// commands in bin) into one image archive in dir, which it returns.
func buildImages(dir, bin string) (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	agent, manager := filepath.Join(dir, "agent"), filepath.Join(dir, "manager")
	for pkg, out := range map[string]string{"./test/node/agent": agent, ".": manager} {
		if err := image.GoBinary(root, pkg, out, runtime.GOARCH); err != nil {
			return "", err
		}
	}
	archive := filepath.Join(dir, "images.tar")
	return archive, image.Write(archive,
		image.Spec{Ref: PauseImage, Binary: agent, Entrypoint: []string{"/agent", "pause"}, User: AgentUser, Arch: runtime.GOARCH},
		image.Spec{Ref: AgentImage, Binary: agent, Entrypoint: []string{"/agent"}, User: AgentUser, Arch: runtime.GOARCH},
		image.Manager(ManagerImage, manager, runtime.GOARCH),
		// The enforcer writes the host's netfilter rules: root, in a privileged pod.
		image.Spec{Ref: EnforcerImage, Binary: filepath.Join(bin, "kube-network-policies"), Entrypoint: []string{"/kube-network-policies"}, User: 0, Arch: runtime.GOARCH},
		image.Spec{Ref: CoreDNSImage, Binary: filepath.Join(bin, "coredns"), Entrypoint: []string{"/coredns"}, User: AgentUser, Arch: runtime.GOARCH},
	)
}
