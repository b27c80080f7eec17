package controlplane

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The harness is only worth its name if kube-controller-manager really finalizes namespaces
// and really garbage-collects dependants.
func TestControlPlaneFinalizesNamespacesAndCollectsGarbage(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	cp, err := Start(scheme)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { g.Expect(cp.Stop()).To(Succeed()) }()
	ctx := context.Background()
	c := cp.Client

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "harness"}}
	g.Expect(c.Create(ctx, ns)).To(Succeed())
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "harness"}}
	g.Expect(c.Create(ctx, owner)).To(Succeed())
	dependant := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependant", Namespace: "harness",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}}}
	g.Expect(c.Create(ctx, dependant)).To(Succeed())

	g.Expect(c.Delete(ctx, owner)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(dependant), &corev1.ConfigMap{}))
	}, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "garbage collector removes the dependant")

	g.Expect(c.Delete(ctx, ns)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}))
	}, 60*time.Second, 200*time.Millisecond).Should(BeTrue(), "namespace controller finalizes the namespace")
}
