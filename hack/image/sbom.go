package image

import (
	"debug/buildinfo"
	"fmt"
	"os"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// SBOM is the CycloneDX bill of materials of a Go binary, from the build information the Go
// toolchain writes into it: the main module, the toolchain, and every module linked in with its
// version and go.sum checksum. It carries no time or serial number, so the same binary gives the
// same document.
func SBOM(binary string) (*cdx.BOM, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the build information of %s: %w", binary, err)
	}
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{Component: &cdx.Component{
		BOMRef: "main", Type: cdx.ComponentTypeApplication, Name: info.Main.Path, Version: info.Main.Version,
		PackageURL: purl(info.Main.Path, info.Main.Version),
	}}
	components := []cdx.Component{{BOMRef: "go", Type: cdx.ComponentTypePlatform, Name: "go", Version: info.GoVersion}}
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := cdx.Component{BOMRef: m.Path, Type: cdx.ComponentTypeLibrary, Name: m.Path, Version: m.Version, PackageURL: purl(m.Path, m.Version)}
		if m.Sum != "" {
			c.Properties = &[]cdx.Property{{Name: "golang:sum", Value: m.Sum}}
		}
		components = append(components, c)
	}
	bom.Components = &components
	return bom, nil
}

// purl is a Go module's package URL.
func purl(path, version string) string { return "pkg:golang/" + path + "@" + version }

// WriteSBOM writes bom as JSON to path.
func WriteSBOM(bom *cdx.BOM, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := cdx.NewBOMEncoder(f, cdx.BOMFileFormatJSON).SetPretty(true).Encode(bom); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
