package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
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

// R8: only the leading replica reports the domains' state, so that a sum over the replicas'
// series (the dashboard's agreements by phase) counts each object once; a standby reports it
// as soon as it leads.
func TestR8_OnlyTheLeaderReportsTheDomainsState(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(opv1.AddToScheme(scheme)).To(Succeed())
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&opv1.OperationDomain{ObjectMeta: metav1.ObjectMeta{Name: "jiangsu"}}).Build()
	elected := make(chan struct{})
	Watch(reader, elected)
	t.Cleanup(func() { Watch(nil, nil) })
	collected := func() []string {
		ch := make(chan prometheus.Metric, 64)
		theState.Collect(ch)
		close(ch)
		var names []string
		for m := range ch {
			names = append(names, m.Desc().String())
		}
		return names
	}
	g.Expect(collected()).To(BeEmpty(), "a standby")
	close(elected)
	g.Expect(collected()).To(ContainElement(ContainSubstring(`"opdomain_records_anchored_head"`)), "the leader")
}
