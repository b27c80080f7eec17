package airlock

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A sealed artifact has one copy, on one volume, which moves between namespaces by being handed
// from one claim to the next: the volume is kept (reclaim policy Retain) while its claim is
// deleted, then reserved for the next claim by name (spec.claimRef without a UID, so the
// cluster's binder binds it to that claim and no other), and the next claim names it. Only the
// operator may name a volume in a claim in a domain namespace, and members have no rights in the
// airlock or the outbox, so between two claims nobody else can take it. Moving rather than
// copying leaves no intermediate copy behind to destroy.

// Custodian moves and destroys the volumes the airlock keeps artifacts on.
type Custodian struct {
	client.Client
	// APIReader reads claims and volumes, which carry no label the manager's cache selects.
	APIReader client.Reader
}

// Move hands the volume named to the claim to, from whichever claim holds it, and reports done
// once to is bound to it. It is idempotent and resumes wherever a restart left it. Every pod
// using the claim that holds the volume must be gone, or its deletion waits for them.
func (c Custodian) Move(ctx context.Context, volume string, to client.ObjectKey, labels map[string]string) (done bool, err error) {
	var pv corev1.PersistentVolume
	if err := c.APIReader.Get(ctx, client.ObjectKey{Name: volume}, &pv); err != nil {
		return false, fmt.Errorf("reading volume %s: %w", volume, err)
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.Namespace != to.Namespace || ref.Name != to.Name {
		if err := c.retain(ctx, &pv, corev1.PersistentVolumeReclaimRetain); err != nil {
			return false, err
		}
		if ref != nil {
			gone, err := c.deleteClaim(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, ref.UID)
			if err != nil || !gone {
				return false, err
			}
		}
		reserve := fmt.Sprintf(`{"spec":{"claimRef":{"apiVersion":"v1","kind":"PersistentVolumeClaim","namespace":%q,"name":%q,"uid":null,"resourceVersion":null}}}`,
			to.Namespace, to.Name)
		if err := c.Patch(ctx, &pv, client.RawPatch(types.MergePatchType, []byte(reserve))); err != nil {
			return false, fmt.Errorf("reserving volume %s for claim %s: %w", volume, to, err)
		}
	}
	claim, err := c.ensureClaim(ctx, &pv, to, labels)
	if err != nil {
		return false, err
	}
	return claim.Status.Phase == corev1.ClaimBound && claim.Spec.VolumeName == pv.Name, nil
}

// Destroy deletes the volume and its bytes: the volume is returned to the Delete reclaim policy
// and its claim deleted (a volume only reserved gets its claim first, so that the cluster
// reclaims it the ordinary way, through its provisioner). gone is true once the volume is.
func (c Custodian) Destroy(ctx context.Context, volume string, labels map[string]string) (gone bool, err error) {
	var pv corev1.PersistentVolume
	switch err := c.APIReader.Get(ctx, client.ObjectKey{Name: volume}, &pv); {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("reading volume %s: %w", volume, err)
	}
	if err := c.retain(ctx, &pv, corev1.PersistentVolumeReclaimDelete); err != nil {
		return false, err
	}
	ref := pv.Spec.ClaimRef
	if ref == nil {
		return false, nil
	}
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	if ref.UID == "" {
		// Reserved, not bound: bind it so that its claim's deletion releases it.
		if _, err := c.ensureClaim(ctx, &pv, key, labels); err != nil {
			return false, err
		}
		return false, nil
	}
	_, err = c.deleteClaim(ctx, key, ref.UID)
	return false, err
}

// retain sets the volume's reclaim policy: Retain while it moves, Delete once it is to go.
func (c Custodian) retain(ctx context.Context, pv *corev1.PersistentVolume, policy corev1.PersistentVolumeReclaimPolicy) error {
	if pv.Spec.PersistentVolumeReclaimPolicy == policy {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"persistentVolumeReclaimPolicy":%q}}`, policy))
	if err := c.Patch(ctx, pv, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("setting volume %s's reclaim policy to %s: %w", pv.Name, policy, err)
	}
	return nil
}

// deleteClaim deletes the claim, the one of that UID only, and says whether it is gone.
func (c Custodian) deleteClaim(ctx context.Context, key client.ObjectKey, uid types.UID) (gone bool, err error) {
	var claim corev1.PersistentVolumeClaim
	switch err := c.APIReader.Get(ctx, key, &claim); {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	}
	if uid != "" && claim.UID != uid {
		return true, nil // a claim of the same name that never held this volume
	}
	if claim.DeletionTimestamp.IsZero() {
		if err := c.Delete(ctx, &claim, client.Preconditions{UID: &claim.UID}); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("deleting claim %s: %w", key, err)
		}
	}
	return false, nil
}

// ensureClaim creates the claim the volume is reserved for, naming it, as large as it is.
func (c Custodian) ensureClaim(ctx context.Context, pv *corev1.PersistentVolume, key client.ObjectKey, labels map[string]string) (*corev1.PersistentVolumeClaim, error) {
	return getOrCreate(ctx, c.APIReader, c.Client, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      pv.Spec.AccessModes,
			StorageClassName: &pv.Spec.StorageClassName,
			VolumeMode:       pv.Spec.VolumeMode,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: pv.Spec.Capacity[corev1.ResourceStorage]}},
		},
	})
}

// getOrCreate returns the object as r reads it, or creates want when there is none: every
// object the airlock makes is made once, by name, and a restart finds what it made.
func getOrCreate[T client.Object](ctx context.Context, r client.Reader, c client.Client, want T) (T, error) {
	have := want.DeepCopyObject().(T)
	err := r.Get(ctx, client.ObjectKeyFromObject(want), have)
	if err == nil || !apierrors.IsNotFound(err) {
		return have, err
	}
	if err := c.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
		return want, fmt.Errorf("creating %T %s/%s: %w", want, want.GetNamespace(), want.GetName(), err)
	}
	return want, nil
}
