package airlock

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/opdomain/opdomain/controllers/names"
)

// The airlock's steps, each run by a pod of the manager's own image that the operator creates
// itself: where the artifact waits (a workspace, or the inbox) the seal copies it onto a new
// volume; in the airlock the inspection digests and checks the bytes there; where they are
// delivered (the outbox, or a workspace) the verification digests them again. Bare pods rather
// than Jobs: the domain's admission policy lets only the operator's own requests mount a seal
// claim, and a Job's pods are created by the Job controller.
const (
	stepSeal    = "seal"
	stepInspect = "inspect"
	stepVerify  = "verify"
)

// SealClaimPrefix begins the name of every claim the seal writes to; the domain's admission
// policy refuses anyone but the operator a claim or a pod volume of that name.
const SealClaimPrefix = "opdomain-seal-"

// artifactFile is the sealed copy's name on its volume, wherever the volume is.
const artifactFile = "artifact"

// Mount points inside the airlock's pods.
const (
	sourceMount = "/source"
	sealedMount = "/sealed"
)

// podSpec is one airlock pod: the step it runs, where, with which claims.
type podSpec struct {
	step, namespace string
	args            []string
	// claims maps mount points to claims; readOnly mounts every claim but the seal's target.
	claims   map[string]string
	writable string
	memory   resource.Quantity
}

func (a *Airlock) pod(p *Passage, spec podSpec) *corev1.Pod {
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, at := range slices.Sorted(maps.Keys(spec.claims)) {
		name := "v" + strconv.Itoa(len(volumes))
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: spec.claims[at], ReadOnly: at != spec.writable}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: at, ReadOnly: at != spec.writable})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: names.Slug(fmt.Sprintf("opdomain-%s-%s", spec.step, p.base()), 63), Namespace: spec.namespace, Labels: p.labels(spec.step)},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			Volumes:                      volumes,
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: spec.step, Image: a.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args:         append([]string{spec.step}, spec.args...),
				VolumeMounts: mounts,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: spec.memory},
				},
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// result reads what a finished pod wrote to its termination message into out; done is false
// while it runs. A pod that ended without a readable message failed.
func result(pod *corev1.Pod, out any) (done bool, err error) {
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		return false, nil
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.Message != "" {
			if err := json.Unmarshal([]byte(t.Message), out); err != nil {
				return true, fmt.Errorf("pod %s reported no result: %w", pod.Name, err)
			}
			return true, nil
		}
	}
	return true, fmt.Errorf("pod %s ended %s without a result", pod.Name, pod.Status.Phase)
}
