// Package apply writes children with server-side apply under opdomain's own field owner, so that
// every reconcile states the whole desired object, drift is overwritten, and fields other
// managers own are left alone.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// FieldOwner is the field manager of everything opdomain writes.
const FieldOwner = client.FieldOwner("opdomain")

// Object applies obj as opdomain's desired state and forces ownership of its fields.
func Object(ctx context.Context, c client.Client, obj client.Object) error {
	u, err := ToUnstructured(c.Scheme(), obj)
	if err != nil {
		return err
	}
	return send(ctx, c, u, obj)
}

// send applies u, the apply form of obj, and gives obj the identity the server answers with,
// which evidence records.
func send(ctx context.Context, c client.Client, u *unstructured.Unstructured, obj client.Object) error {
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), FieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	obj.SetUID(u.GetUID())
	return nil
}

// Cached applies obj unless the manager's cache shows it is already so: the object was last
// applied from this very desired state (opv1.AnnotationApplied) and every field obj states still
// holds its value, so drift is still put back and a field opdomain stops stating still goes.
// A reconcile that changes nothing then costs no request. Only for the kinds the manager
// caches: reading any other kind through the cache would start a cluster-wide informer.
func Cached(ctx context.Context, c client.Client, obj client.Object) error {
	u, err := ToUnstructured(c.Scheme(), obj)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	digest := hex.EncodeToString(sum[:16])
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[opv1.AnnotationApplied] = digest
	u.SetAnnotations(annotations)

	key := u.GroupVersionKind().String() + "/" + u.GetNamespace() + "/" + u.GetName()
	have := obj.DeepCopyObject().(client.Object)
	switch err := c.Get(ctx, client.ObjectKeyFromObject(obj), have); {
	case err == nil && have.GetAnnotations()[opv1.AnnotationApplied] == digest && lastWritten.agrees(key, digest):
		current, err := ToUnstructured(c.Scheme(), have)
		if err != nil {
			return err
		}
		if contains(current.Object, u.Object) {
			obj.SetUID(have.GetUID())
			return nil
		}
	case err != nil && !apierrors.IsNotFound(err):
		return err
	}
	if err := send(ctx, c, u, obj); err != nil {
		lastWritten.remember(key, "")
		return err
	}
	lastWritten.remember(key, digest)
	return nil
}

// written remembers the digest this process last applied to each object, for as long as the
// cache may trail it. The cache trails the process's own writes by a watch event: a gate opened
// a moment ago may still look closed there, and closing it again must not be skipped for that.
// So an apply is skipped only when the cache and a recent write agree; with no recent write
// (after a restart, or long after), the cache alone decides.
type written struct {
	m     sync.Map // key → writeMark
	count atomic.Int64
}

type writeMark struct {
	digest string // "" after a failed apply: the object's state is unknown
	at     time.Time
}

// trail is how long the cache may lag a write; far longer than a watch event takes.
const trail = 30 * time.Second

var lastWritten written

func (w *written) agrees(key, digest string) bool {
	v, ok := w.m.Load(key)
	if !ok {
		return true
	}
	mark := v.(writeMark)
	return mark.digest == digest || time.Since(mark.at) > trail
}

func (w *written) remember(key, digest string) {
	w.m.Store(key, writeMark{digest: digest, at: time.Now()})
	// Now and then, forget what the cache has long caught up with.
	if w.count.Add(1)%1024 == 0 {
		w.m.Range(func(k, v any) bool {
			if time.Since(v.(writeMark).at) > trail {
				w.m.Delete(k)
			}
			return true
		})
	}
}

// contains says whether have holds every field of want with the same value. Maps may hold more
// (what others set, server defaults); lists must be as long, item by item.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if hv, ok := h[k]; !ok || !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(have, want)
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

// Status patches obj's status against orig, and sends nothing when nothing changed: a no-op
// reconcile costs no request.
func Status(ctx context.Context, c client.Client, obj, orig client.Object) error {
	patch := client.MergeFrom(orig)
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	if string(data) == "{}" {
		return nil
	}
	return c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data))
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
