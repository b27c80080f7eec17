package apply

import (
	"context"
	"errors"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/policy"
)

// Isolation applies the model in the renderings mode asks for and deletes every policy the
// model or mode no longer wants. Withdrawn allows go first and a rendering being switched off
// goes last, so a failure half-way leaves the namespace more closed, never more open.
func Isolation(ctx context.Context, c client.Client, iso policy.Isolation, mode opv1.NetworkPolicyMode) error {
	var errs []error
	for _, name := range iso.Withdrawn() {
		meta := metav1.ObjectMeta{Namespace: iso.Namespace, Name: name}
		for _, p := range []client.Object{&networkingv1.NetworkPolicy{ObjectMeta: meta}, &ciliumv2.CiliumNetworkPolicy{ObjectMeta: meta}} {
			if iso.Open || iso.AtRest {
				// An allow the namespace never has (introspection outside a data zone, DNS with
				// no resolver to reach, anything at all at rest) costs no request where the
				// cache holds none.
				errs = append(errs, deleteCached(ctx, c, p))
			} else {
				// A cut never trusts the cache.
				errs = append(errs, Delete(ctx, c, p))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if mode.Kubernetes() {
		for _, np := range iso.Kubernetes() {
			if err := Cached(ctx, c, np); err != nil {
				return err
			}
		}
	}
	if mode.Cilium() {
		for _, cnp := range iso.Cilium() {
			if err := Cached(ctx, c, cnp); err != nil {
				return err
			}
		}
	}
	// The rendering the domain does not use is deleted only where the cache holds it (a mode
	// just switched): every pass paying a delete for nothing was a fifth of all requests.
	for _, name := range iso.Names() {
		meta := metav1.ObjectMeta{Namespace: iso.Namespace, Name: name}
		if !mode.Kubernetes() {
			errs = append(errs, deleteCached(ctx, c, &networkingv1.NetworkPolicy{ObjectMeta: meta}))
		}
		if !mode.Cilium() {
			errs = append(errs, deleteCached(ctx, c, &ciliumv2.CiliumNetworkPolicy{ObjectMeta: meta}))
		}
	}
	return errors.Join(errs...)
}

// deleteCached deletes obj if the cache holds it; a kind the cluster does not serve holds
// nothing.
func deleteCached(ctx context.Context, c client.Client, obj client.Object) error {
	err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return Delete(ctx, c, obj)
}

// RemoveIsolation deletes every policy of the model in both renderings.
func RemoveIsolation(ctx context.Context, c client.Client, namespace string) error {
	var errs []error
	for _, name := range policy.All {
		errs = append(errs, deletePolicies(ctx, c, namespace, name, true, true))
	}
	return errors.Join(errs...)
}

func deletePolicies(ctx context.Context, c client.Client, namespace, name string, kubernetes, cilium bool) error {
	meta := metav1.ObjectMeta{Namespace: namespace, Name: name}
	var errs []error
	if kubernetes {
		errs = append(errs, Delete(ctx, c, &networkingv1.NetworkPolicy{ObjectMeta: meta}))
	}
	if cilium {
		errs = append(errs, Delete(ctx, c, &ciliumv2.CiliumNetworkPolicy{ObjectMeta: meta}))
	}
	return errors.Join(errs...)
}

// Delete deletes obj; an object or a whole API that is not there counts as deleted.
func Delete(ctx context.Context, c client.Client, obj client.Object, opts ...client.DeleteOption) error {
	err := c.Delete(ctx, obj, opts...)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	return err
}
