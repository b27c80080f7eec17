package names

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestSlugIsAValidBoundedDistinctName(t *testing.T) {
	g := NewWithT(t)
	long := "opdomain-" + strings.Repeat("jiangsu", 30) + "-congestion-forecast-0"
	for _, in := range []string{"lisi@acme.example", "LiSi@Acme.Example", long, "--weird__name--"} {
		out := Slug(in, 63)
		g.Expect(len(out)).To(BeNumerically("<=", 63), in)
		g.Expect(validation.IsDNS1123Label(out)).To(BeEmpty(), in)
	}
	g.Expect(Slug("lisi@acme.example", 63)).NotTo(Equal(Slug("LiSi@Acme.Example", 63)), "case differs, names differ")
	g.Expect(Slug(long, 253)).To(HavePrefix("opdomain-jiangsu"))
	g.Expect(Slug(long+"x", 63)).NotTo(Equal(Slug(long+"y", 63)), "a cut prefix never makes two names one")
}
