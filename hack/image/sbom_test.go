package image

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	. "github.com/onsi/gomega"
)

// The bill of materials of a Go binary names the modules linked into it, with versions and
// checksums, and is the same document every time (a small program stands in for the manager).
func TestTheSBOMNamesEveryModuleLinkedIn(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	binary := filepath.Join(dir, "tiny")
	out, err := exec.Command("go", "build", "-o", binary, "./testdata/tiny").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	bom, err := SBOM(binary)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(bom.Metadata.Component.Name).To(Equal("github.com/opdomain/opdomain"))
	i := slices.IndexFunc(*bom.Components, func(c cdx.Component) bool { return c.Name == "github.com/google/go-containerregistry" })
	g.Expect(i).To(BeNumerically(">=", 0), "the module the binary links")
	linked := (*bom.Components)[i]
	g.Expect(linked.Version).To(HavePrefix("v"))
	g.Expect(linked.PackageURL).To(Equal("pkg:golang/github.com/google/go-containerregistry@" + linked.Version))
	g.Expect(*linked.Properties).To(ContainElement(HaveField("Name", "golang:sum")))
	g.Expect(*bom.Components).NotTo(ContainElement(HaveField("Name", "github.com/onsi/gomega")), "nothing the binary does not link")

	for _, name := range []string{"a.json", "b.json"} {
		g.Expect(WriteSBOM(bom, filepath.Join(dir, name))).To(Succeed())
	}
	a, err := os.ReadFile(filepath.Join(dir, "a.json"))
	g.Expect(err).NotTo(HaveOccurred())
	b, err := os.ReadFile(filepath.Join(dir, "b.json"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a).To(Equal(b), "reproducible")
	var doc map[string]any
	g.Expect(json.Unmarshal(a, &doc)).To(Succeed())
	g.Expect(doc).To(HaveKeyWithValue("bomFormat", "CycloneDX"))
}
