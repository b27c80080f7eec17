// Package image writes container images of static Go binaries without a container engine or a
// registry: one layer holding the binary, an entrypoint and a numeric user, nothing else (no
// shell, no package manager, nothing to patch). The layer's files carry no time and the config
// no creation date, so the same binary gives the same image digest on any machine.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Spec is one image: the binary it holds (as /<its file name>), the command it starts with and
// the user it runs as.
type Spec struct {
	Ref        string
	Binary     string
	Entrypoint []string
	User       int
	// Arch is the binary's GOARCH.
	Arch string
	// Labels are the image's OCI annotations-as-labels (org.opencontainers.image.*).
	Labels map[string]string
}

// Build makes the image a Spec describes.
func Build(s Spec) (name.Tag, v1.Image, error) {
	tag, err := name.NewTag(s.Ref)
	if err != nil {
		return name.Tag{}, nil, err
	}
	layer, err := binaryLayer(s.Binary)
	if err != nil {
		return name.Tag{}, nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return name.Tag{}, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return name.Tag{}, nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", s.Arch
	cfg.Config.Entrypoint = s.Entrypoint
	cfg.Config.User = fmt.Sprintf("%d:%d", s.User, s.User)
	cfg.Config.Labels = s.Labels
	img, err = mutate.ConfigFile(img, cfg)
	return tag, img, err
}

// GoBinary builds the Go package pkg of the module in dir as a static Linux binary at out, for
// arch. No build ID, paths or VCS stamp: the same source gives the same binary, hence the same
// image digest.
func GoBinary(dir, pkg, out, arch string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w: %s", pkg, err, output)
	}
	return nil
}

// Write builds every image and writes them into one archive that `docker load`, `podman load`
// and `ctr images import` read.
func Write(archive string, specs ...Spec) error {
	images := make(map[name.Reference]v1.Image, len(specs))
	for _, s := range specs {
		tag, img, err := Build(s)
		if err != nil {
			return fmt.Errorf("image %s: %w", s.Ref, err)
		}
		images[tag] = img
	}
	return tarball.MultiRefWriteToFile(archive, images)
}

// binaryLayer is a layer holding the executable at path as /<its name>, root-owned and not
// writable by the user the image runs as.
func binaryLayer(path string) (v1.Layer, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: filepath.Base(path), Mode: 0o555, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
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

// ManagerUser is the manager's numeric user: not root, and numeric so that runAsNonRoot can
// check it.
const ManagerUser = 65532

// Manager is the manager's image, ref, holding the binary at bin (the repository's root package).
func Manager(ref, bin, arch string) Spec {
	return Spec{
		Ref: ref, Binary: bin, Entrypoint: []string{"/" + filepath.Base(bin)}, User: ManagerUser, Arch: arch,
		Labels: map[string]string{
			"org.opencontainers.image.title":  "opdomain manager",
			"org.opencontainers.image.source": "https://github.com/opdomain/opdomain",
		},
	}
}
