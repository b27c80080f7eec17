package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers"
	"github.com/opdomain/opdomain/test/controlplane"
	"github.com/opdomain/opdomain/test/fixtures"
)

// argoHealth runs the shipped Argo CD health check (config/argocd/health.lua) on obj as read
// from the API server, in the Lua interpreter Argo CD runs it in, and returns its status.
func argoHealth(t testing.TB, obj client.Object) string {
	t.Helper()
	g := NewWithT(t)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	script, err := os.ReadFile(filepath.Join(root, "config", "argocd", "health.lua"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	gvk, err := apiutil.GVKForObject(obj, controllers.Scheme())
	g.Expect(err).NotTo(HaveOccurred())
	content["apiVersion"], content["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return runHealth(t, string(script), content)
}

func runHealth(t testing.TB, script string, obj map[string]any) string {
	t.Helper()
	state := lua.NewState()
	defer state.Close()
	state.SetGlobal("obj", toLua(state, obj))
	NewWithT(t).Expect(state.DoString(script)).To(Succeed())
	hs, ok := state.Get(-1).(*lua.LTable)
	NewWithT(t).Expect(ok).To(BeTrue(), "the script returns a table")
	return state.GetField(hs, "status").String()
}

// toLua is the object as Argo CD hands it to a health script: JSON's values as Lua's.
func toLua(state *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := state.NewTable()
		for k, x := range v {
			t.RawSetString(k, toLua(state, x))
		}
		return t
	case []any:
		t := state.NewTable()
		for _, x := range v {
			t.Append(toLua(state, x))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	return lua.LString(fmt.Sprint(v))
}

// GitOps: Argo CD's health of each kind, from the shipped check run on the objects' real
// statuses: Healthy once reconciled and open, Suspended while access is held (an agreement
// suspended, its workspace and grants with it), Degraded when stalled, Progressing before the
// operator has seen the latest spec.
func TestGitOps_ArgoCDHealthFollowsTheOperatorsStatus(t *testing.T) {
	g := NewWithT(t)
	w := newGrantWorld(t, "argo1", opv1.NetworkPolicyKubernetes)
	gr := w.grant("congestion")
	g.Expect(asReviewer.Create(ctx, gr)).To(Succeed())
	g.Eventually(grantPhase(gr), timeout, poll).Should(Equal(opv1.GrantActive))
	g.Eventually(workspacePhase(w.ws), timeout, poll).Should(Equal(opv1.WorkspaceReady))
	for _, obj := range []client.Object{w.domain, w.operator, w.developer, w.ws, w.traffic, gr} {
		g.Eventually(func() string { return argoHealth(t, obj) }, timeout, poll).Should(Equal("Healthy"), "%T %s", obj, obj.GetName())
	}

	setSuspension(t, w.developer, &opv1.Suspension{Reason: opv1.SuspensionSecurityRisk})
	for _, obj := range []client.Object{w.developer, w.ws, gr} {
		g.Eventually(func() string { return argoHealth(t, obj) }, timeout, poll).Should(Equal("Suspended"), "%T %s", obj, obj.GetName())
	}
	g.Expect(argoHealth(t, w.operator)).To(Equal("Healthy"), "the operator's agreement is untouched")

	// A domain whose data zone another domain's label claims is Stalled: Degraded.
	claimed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argo2-data", Labels: map[string]string{opv1.LabelDomain: "argo1"}}}
	g.Expect(k8s.Create(ctx, claimed)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, claimed) })
	stalled := fixtures.Domain("argo2", opv1.NetworkPolicyKubernetes)
	g.Expect(k8s.Create(ctx, stalled)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, stalled) })
	g.Eventually(func() string { return argoHealth(t, stalled) }, timeout, poll).Should(Equal("Degraded"))

	// Not yet reconciled: no status, or a status older than the spec.
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w.domain)
	g.Expect(err).NotTo(HaveOccurred())
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	script, err := os.ReadFile(filepath.Join(root, "config", "argocd", "health.lua"))
	g.Expect(err).NotTo(HaveOccurred())
	content["kind"] = "OperationDomain"
	content["metadata"].(map[string]any)["generation"] = w.domain.Generation + 1
	g.Expect(runHealth(t, string(script), content)).To(Equal("Progressing"), "the latest spec not yet seen")
	delete(content, "status")
	g.Expect(runHealth(t, string(script), content)).To(Equal("Progressing"), "no status yet")
}
