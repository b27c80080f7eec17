// Package apply writes children with server-side apply under opdomain's own field owner, so that
// every reconcile states the whole desired object, drift is overwritten, and fields other
// managers own are left alone.
package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// FieldOwner is the field manager of everything opdomain writes.
const FieldOwner = client.FieldOwner("opdomain")

// Object applies obj as opdomain's desired state and forces ownership of its fields.
func Object(ctx context.Context, c client.Client, obj client.Object) error {
	u, err := ToUnstructured(c.Scheme(), obj)
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), FieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	// The server's answer names the object's identity, which evidence records.
	obj.SetUID(u.GetUID())
	return nil
}

// ToUnstructured converts a typed object into the apply form: apiVersion and kind set, and no
// status or server-set metadata, which an apply must not claim.
func ToUnstructured(scheme *runtime.Scheme, obj client.Object) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: pruneNulls(content)}
	u.SetGroupVersionKind(gvk)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// StatusNow patches obj's status against orig at once, for a step that must be on record
// before it acts, and returns the new baseline. It patches a copy: a patch decodes the server's
// answer into its object, which would leave callers holding pointers into the old status.
func StatusNow[T client.Object](ctx context.Context, c client.Client, obj, orig T) (T, error) {
	if err := c.Status().Patch(ctx, obj.DeepCopyObject().(T), client.MergeFrom(orig)); err != nil {
		return orig, err
	}
	return obj.DeepCopyObject().(T), nil
}

// pruneNulls drops the nulls a nil pointer without omitempty converts to (as some third-party
// types have): an apply states only what opdomain wants, and a schema may refuse null.
func pruneNulls(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneNulls(v)
		case []any:
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					pruneNulls(im)
				}
			}
		}
	}
	return m
}
