package grant

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/rules"
)

// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshots;volumesnapshotcontents,verbs=get;list;watch;create;update;patch;delete

// defaultRestoreSize sizes a restored claim when the snapshot does not report its size.
var defaultRestoreSize = resource.MustParse("1Gi")

// volumes builds, for each VolumeSnapshot source of the grant, the only way Kubernetes lets a
// snapshot cross namespaces: a pre-provisioned VolumeSnapshotContent on the same snapshot
// handle with deletionPolicy Retain (so deleting it never deletes the storage's snapshot), a
// VolumeSnapshot in the workspace bound to it, and a read-only claim restored from that.
func (r *Reconciler) volumes(ctx context.Context, g *opv1.DataGrant, w rules.GrantWorld, ns string, labels map[string]string) ([]client.Object, error) {
	d := w.Domain
	var out []client.Object
	for i, item := range g.Spec.Items {
		src := w.Resources[item.Resource].Spec.Source.VolumeSnapshot
		if src == nil {
			continue
		}
		var snap snapshotv1.VolumeSnapshot
		if err := r.Get(ctx, client.ObjectKey{Namespace: d.Spec.DataZoneNamespace, Name: src.Name}, &snap); err != nil {
			return nil, fmt.Errorf("reading VolumeSnapshot %s of DataResource %s: %w", src.Name, item.Resource, err)
		}
		contentName := ptr.Deref(snap.Spec.Source.VolumeSnapshotContentName, "")
		if st := snap.Status; st != nil && st.BoundVolumeSnapshotContentName != nil {
			contentName = *st.BoundVolumeSnapshotContentName
		}
		var content snapshotv1.VolumeSnapshotContent
		if contentName == "" {
			return nil, fmt.Errorf("VolumeSnapshot %s/%s is not bound to a content yet", snap.Namespace, snap.Name)
		}
		if err := r.Get(ctx, client.ObjectKey{Name: contentName}, &content); err != nil {
			return nil, fmt.Errorf("reading VolumeSnapshotContent %s: %w", contentName, err)
		}
		handle := ptr.Deref(content.Status, snapshotv1.VolumeSnapshotContentStatus{}).SnapshotHandle
		if handle == nil {
			handle = content.Spec.Source.SnapshotHandle
		}
		if handle == nil {
			return nil, fmt.Errorf("VolumeSnapshotContent %s has no snapshot handle yet", contentName)
		}
		size := defaultRestoreSize
		if s := content.Status; s != nil && s.RestoreSize != nil {
			size = *resource.NewQuantity(*s.RestoreSize, resource.BinarySI)
		}
		name := fmt.Sprintf("opdomain-grant-%s-%d", g.Name, i)
		// Cluster-scoped: a grant's name is unique in its domain, and the slug keeps it in bounds.
		copyName := names.Slug(fmt.Sprintf("opdomain-%s-%s-%d", d.Name, g.Name, i), 253)
		meta := func(namespace, name string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
		}
		out = append(out,
			&snapshotv1.VolumeSnapshotContent{
				TypeMeta:   metav1.TypeMeta{APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshotContent"},
				ObjectMeta: meta("", copyName),
				Spec: snapshotv1.VolumeSnapshotContentSpec{
					DeletionPolicy:          snapshotv1.VolumeSnapshotContentRetain,
					Driver:                  content.Spec.Driver,
					VolumeSnapshotClassName: content.Spec.VolumeSnapshotClassName,
					Source:                  snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: handle},
					VolumeSnapshotRef:       corev1.ObjectReference{Namespace: ns, Name: name},
					SourceVolumeMode:        content.Spec.SourceVolumeMode,
				},
			},
			&snapshotv1.VolumeSnapshot{
				TypeMeta:   metav1.TypeMeta{APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshot"},
				ObjectMeta: meta(ns, name),
				Spec:       snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: &copyName}},
			},
			&corev1.PersistentVolumeClaim{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: meta(ns, name),
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
					DataSource:  &corev1.TypedLocalObjectReference{APIGroup: &snapshotv1.SchemeGroupVersion.Group, Kind: "VolumeSnapshot", Name: name},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
					StorageClassName: func() *string {
						if c := d.Spec.WorkspaceDefaults.StorageClassName; c != "" {
							return &c
						}
						return nil
					}(),
				},
			},
		)
	}
	return out, nil
}
