package node

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/opdomain/opdomain/test/controlplane"
)

// The suite's images, built from test/node/agent; no registry serves them, so the node must
// never try to pull (imagePullPolicy Never, or IfNotPresent with the image imported).
const (
	PauseImage = "opdomain.test/pause:e2e"
	AgentImage = "opdomain.test/agent:e2e"
	// EnforcerImage holds kube-network-policies as hack/setup-node.sh built it.
	EnforcerImage = "opdomain.test/kube-network-policies:e2e"
	// AgentUser is the numeric user the images run as: non-root, so `restricted` pods admit them.
	AgentUser = 65532
)

// image is one image to write: a single binary in one layer, its entrypoint and user.
type image struct {
	ref        string
	layer      v1.Layer
	entrypoint []string
	user       int
}

// buildImages compiles the agent statically and writes the pause and agent images (one layer
// holding /agent each) and the enforcer's (/kube-network-policies, from the node's commands in
// bin) into one image archive in dir, which it returns.
func buildImages(dir, bin string) (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	agentBin := filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", agentBin, "./test/node/agent")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent: %w: %s", err, out)
	}
	agent, err := binaryLayer(agentBin)
	if err != nil {
		return "", err
	}
	enforcer, err := binaryLayer(filepath.Join(bin, "kube-network-policies"))
	if err != nil {
		return "", err
	}
	images := map[name.Reference]v1.Image{}
	for _, spec := range []image{
		{ref: PauseImage, layer: agent, entrypoint: []string{"/agent", "pause"}, user: AgentUser},
		{ref: AgentImage, layer: agent, entrypoint: []string{"/agent"}, user: AgentUser},
		// The enforcer writes the host's netfilter rules: root, in a privileged pod.
		{ref: EnforcerImage, layer: enforcer, entrypoint: []string{"/kube-network-policies"}, user: 0},
	} {
		img, err := mutate.AppendLayers(empty.Image, spec.layer)
		if err != nil {
			return "", err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
		cfg.Config.Entrypoint = spec.entrypoint
		cfg.Config.User = fmt.Sprintf("%d:%d", spec.user, spec.user)
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return "", err
		}
		tag, err := name.NewTag(spec.ref)
		if err != nil {
			return "", err
		}
		images[tag] = img
	}
	archive := filepath.Join(dir, "images.tar")
	return archive, tarball.MultiRefWriteToFile(archive, images)
}

// binaryLayer is a layer holding the executable at path as /<its name>, root-owned and not
// writable by the user the image runs as.
func binaryLayer(path string) (v1.Layer, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o555, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
}
