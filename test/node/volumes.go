package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// StorageClass is the node's default storage class: a directory on the node's disk per claim,
// removed with everything in it when the volume is deleted, so a test can see that bytes
// written to a volume are gone from the disk.
const StorageClass = "opdomain-local"

// provisionerName is the storage class's provisioner.
const provisionerName = "opdomain.test/local"

// localVolumes provisions and deletes the class's volumes: directories under root.
type localVolumes struct{ root string }

func (l localVolumes) Provision(_ context.Context, opts controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	dir := filepath.Join(l.root, opts.PVName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	// Workspace pods run as a user the node cannot know in advance (restricted, non-root),
	// so the directory is open to every user of this single test node.
	if err := os.Chmod(dir, 0o777); err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if opts.StorageClass.ReclaimPolicy != nil {
		reclaim = *opts.StorageClass.ReclaimPolicy
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: opts.PVName},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			AccessModes:                   opts.PVC.Spec.AccessModes,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: opts.PVC.Spec.Resources.Requests[corev1.ResourceStorage]},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectory)},
			},
		},
	}, controller.ProvisioningFinished, nil
}

// Delete removes the volume's directory and its bytes. A volume outside root is not the
// class's to remove, whatever it says.
func (l localVolumes) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil || filepath.Dir(pv.Spec.HostPath.Path) != l.root {
		return &controller.IgnoredError{Reason: "not a volume of " + l.root}
	}
	return os.RemoveAll(pv.Spec.HostPath.Path)
}

// startVolumes makes the storage class and runs its provisioner until Stop.
func (n *Node) startVolumes() error {
	root := n.path("volumes")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	class := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:   provisionerName,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
	}
	if err := n.cp.Client.Create(context.Background(), class); err != nil {
		return fmt.Errorf("creating the storage class: %w", err)
	}
	clientset, err := kubernetes.NewForConfig(n.cp.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	provisioner := controller.NewProvisionController(ctx, clientset, provisionerName, localVolumes{root: root},
		controller.LeaderElection(false),
		// The provisioner's finalizer keeps a deleted volume until its directory is gone, even
		// when the volume object is deleted rather than released.
		controller.AddFinalizer(true))
	go func() { provisioner.Run(ctx); close(done) }()
	n.stopVolumes = func() { cancel(); <-done }
	return nil
}
