package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// requests reads the API server's own count of the requests it has served, by verb and
// resource, excluding the reviews (who-am-I and may-I questions, which the tests ask too).
func requests(t testing.TB) map[string]float64 {
	t.Helper()
	g := NewWithT(t)
	raw, err := kubernetes.NewForConfigOrDie(cp.Config).RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		if l["resource"] == "" || strings.HasSuffix(l["resource"], "reviews") {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		g.Expect(err).NotTo(HaveOccurred())
		out[l["verb"]+" "+l["resource"]+sub(l["subresource"])] += n
	}
	return out
}

func sub(s string) string {
	if s == "" {
		return ""
	}
	return "/" + s
}

// quiet waits until the API server has served no write for three seconds (what earlier tests
// left behind, namespaces finalizing say, has settled) and returns the count then.
func quiet(t testing.TB) map[string]float64 {
	t.Helper()
	last, since := requests(t), time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		now := requests(t)
		if total, _ := writes(last, now); total > 0 {
			since = time.Now()
		} else if time.Since(since) >= 3*time.Second {
			return now
		}
		last = now
	}
	t.Fatal("the API server never went quiet")
	return nil
}

// writes sums, between two counts, the writes a workspace's provisioning can cause: applies,
// patches and creates (kube-controller-manager's creates among them), and deletes of network
// policies, the waste once found. Other deletes and PUTs are left out: the operator makes none
// while provisioning, and kube-controller-manager's finalizing of a namespace an earlier test
// deleted (one delete of every kind, then PUTs) may fall into any window.
func writes(before, after map[string]float64) (total float64, byKind map[string]float64) {
	byKind = map[string]float64{}
	for k, v := range after {
		verb, resource, _ := strings.Cut(k, " ")
		counted := verb == "APPLY" || verb == "PATCH" || verb == "POST" ||
			(verb == "DELETE" && (resource == "networkpolicies" || resource == "ciliumnetworkpolicies"))
		if d := v - before[k]; d > 0 && counted {
			byKind[k] = d
			total += d
		}
	}
	return total, byKind
}

// Provisioning a workspace costs a bounded number of writes, counted by the API server itself
// (the waste found before: deletes of policies never made, status patches with nothing in them,
// re-applies of unchanged children), and an idle domain costs none.
func TestR3_ProvisioningIsLean(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, "lean", opv1.NetworkPolicyKubernetes, 24*time.Hour)
	before := quiet(t)
	const n = 10
	var created []*opv1.DeveloperWorkspace
	for i := range n {
		ws := &opv1.DeveloperWorkspace{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("lean%d", i), Namespace: w.control()},
			Spec:       opv1.DeveloperWorkspaceSpec{Authorization: w.developer.Name, Members: []string{member}},
		}
		g.Expect(k8s.Create(ctx, ws)).To(Succeed())
		created = append(created, ws)
	}
	for _, ws := range created {
		waitReady(t, ws)
	}
	time.Sleep(2 * time.Second)
	after := requests(t)
	total, byKind := writes(before, after)
	perWorkspace := (total - n) / n // the test's own creates
	t.Logf("writes per workspace: %.1f; by kind: %v", perWorkspace, byKind)
	// 46 before the waste was removed; kube-controller-manager's own writes (the namespace's
	// root CA ConfigMap, the quota's status) are counted too.
	g.Expect(perWorkspace).To(BeNumerically("<=", 22), "%v", byKind)

	time.Sleep(3 * time.Second)
	idle, idleByKind := writes(after, requests(t))
	t.Logf("writes while idle for 3 s: %.0f %v", idle, idleByKind)
	g.Expect(idleByKind).To(BeEmpty(), "an idle domain writes nothing")
}
