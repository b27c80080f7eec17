package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
)

// exported is every series name the manager adds to its metrics.
func exported() map[string]bool {
	names := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	describe := func(c prometheus.Collector, suffixes ...string) {
		ch := make(chan *prometheus.Desc, 64)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name := fqName.FindStringSubmatch(d.String())[1]
			for _, suffix := range suffixes {
				names[name+suffix] = true
			}
		}
	}
	describe(theState, "")
	for _, h := range histograms {
		describe(h, "", "_bucket", "_count", "_sum")
	}
	return names
}

// The shipped alerts and dashboard query only series the manager exports: a metric renamed
// without them would leave an alert that never fires.
func TestR2_AlertsAndDashboardQueryWhatTheManagerExports(t *testing.T) {
	g := NewWithT(t)
	names := exported()
	g.Expect(names).To(HaveKey("opdomain_agreements"))
	series := regexp.MustCompile(`opdomain_[a-z_]+`)
	for _, file := range []string{
		filepath.Join("..", "..", "config", "prometheus", "rules.yaml"),
		filepath.Join("..", "..", "config", "grafana", "dashboard.json"),
	} {
		raw, err := os.ReadFile(file)
		g.Expect(err).NotTo(HaveOccurred())
		used := series.FindAllString(string(raw), -1)
		g.Expect(used).NotTo(BeEmpty(), file)
		for _, name := range used {
			g.Expect(names).To(HaveKey(name), "%s queries %s", file, name)
		}
	}
}
