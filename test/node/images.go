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
	// AgentUser is the numeric user the images run as: non-root, so `restricted` pods admit them.
	AgentUser = 65532
)

// buildImages compiles the agent statically and writes the pause and agent images, one layer
// holding /agent each, into one image archive in dir, which it returns.
func buildImages(dir string) (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./test/node/agent")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent: %w: %s", err, out)
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	layer, err := binaryLayer("agent", content)
	if err != nil {
		return "", err
	}
	images := map[name.Reference]v1.Image{}
	for ref, entrypoint := range map[string][]string{
		PauseImage: {"/agent", "pause"},
		AgentImage: {"/agent"},
	} {
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err != nil {
			return "", err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
		cfg.Config.Entrypoint = entrypoint
		cfg.Config.User = fmt.Sprintf("%d:%d", AgentUser, AgentUser)
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return "", err
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return "", err
		}
		images[tag] = img
	}
	archive := filepath.Join(dir, "images.tar")
	return archive, tarball.MultiRefWriteToFile(archive, images)
}

// binaryLayer is a layer holding one executable at /name, root-owned and not writable by the
// user the image runs as.
func binaryLayer(name string, content []byte) (v1.Layer, error) {
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
