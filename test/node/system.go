package node

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// systemPod is a pod of the node's own, in kube-system, run under a ServiceAccount of its name
// holding rules cluster-wide, as clusters install their add-ons.
type systemPod struct {
	// what names it in errors: "the enforcer".
	what  string
	pod   *corev1.Pod
	rules []rbacv1.PolicyRule
	// also are further objects it needs (a ConfigMap, a Service).
	also []client.Object
	// ready says whether it is ready, given the pod as last read.
	ready func(*corev1.Pod) error
}

// install creates the pod's account and objects, then the pod (admitted once kube-system's
// default ServiceAccount exists), and waits until it is ready; a failure carries its log.
func (n *Node) install(s systemPod) error {
	ctx := context.Background()
	c := n.cp.Client
	name, namespace := s.pod.Name, metav1.NamespaceSystem
	s.pod.Namespace, s.pod.Spec.ServiceAccountName = namespace, name
	objs := append([]client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: s.rules},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}},
		},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}},
	}, s.also...)
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("installing %s: %w", s.what, err)
		}
	}
	if err := poll(30*time.Second, s.what+"'s pod to be admitted", func() error { return c.Create(ctx, s.pod) }); err != nil {
		return err
	}
	err := poll(time.Minute, s.what+" to be ready", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(s.pod), s.pod); err != nil {
			return err
		}
		if phase := s.pod.Status.Phase; phase == corev1.PodFailed || phase == corev1.PodSucceeded {
			return permanent{fmt.Errorf("%s's pod ended: %+v", s.what, s.pod.Status)}
		}
		return s.ready(s.pod)
	})
	if err != nil {
		return fmt.Errorf("%w; %s's log:\n%s", err, s.what, n.PodLog(namespace, name))
	}
	return nil
}

// podReady is ready for a pod whose Ready condition holds.
func podReady(pod *corev1.Pod) error {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("pod %s is %s, not ready", pod.Name, pod.Status.Phase)
}
