// Command manager builds the opdomain manager from this repository and writes it as a container
// image archive, offline: `make image`. Load it with `docker load`, `podman load` or
// `ctr -n k8s.io images import`, or push it with any registry tool.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/opdomain/opdomain/hack/image"
)

func main() {
	ref := flag.String("ref", "opdomain/manager:latest", "the image's name and tag")
	out := flag.String("o", "bin/opdomain-manager.tar", "where to write the image archive")
	sbom := flag.String("sbom", "bin/opdomain-manager.sbom.cdx.json", "where to write the manager's CycloneDX bill of materials")
	arch := flag.String("arch", runtime.GOARCH, "GOARCH to build for")
	flag.Parse()
	if err := build(*ref, *out, *sbom, *arch); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func build(ref, out, sbom, arch string) error {
	dir, err := os.MkdirTemp("", "opdomain-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	spec := image.Manager(ref, filepath.Join(dir, "manager"), arch)
	if err := image.GoBinary(".", ".", spec.Binary, arch); err != nil {
		return err
	}
	tag, img, err := image.Build(spec)
	if err != nil {
		return err
	}
	bom, err := image.SBOM(spec.Binary)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return err
	}
	if err := image.WriteSBOM(bom, sbom); err != nil {
		return err
	}
	fmt.Printf("%s %s@%s (bill of materials %s)\n", out, ref, digest, sbom)
	return nil
}
