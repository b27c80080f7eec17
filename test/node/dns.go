package node

import (
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// ClusterDNSIP is the cluster resolver's Service address, which the kubelet gives pods.
	ClusterDNSIP = "10.0.0.10"
	// UpstreamResolver is the resolver beyond the cluster, on the outside host: it records every
	// name it is asked (UpstreamQueries) and answers every A question.
	UpstreamResolver = "192.168.250.2:53"
	// clusterDNSLabel and clusterDNSValue are the cluster resolver's pod label, as kube-dns has
	// it: the manager's --dns-pod-labels default.
	clusterDNSLabel = "k8s-app"
	clusterDNSValue = "kube-dns"
)

// clusterCorefile makes the cluster's resolver as clusters have it: the cluster's own names
// from the API, every other name forwarded upstream.
const clusterCorefile = `cluster.local:53 {
    errors
    ready :8181
    kubernetes cluster.local
}
.:53 {
    errors
    forward . ` + UpstreamResolver + `
}
`

// startClusterDNS runs CoreDNS as the cluster's resolver (kube-system/kube-dns), reaching the
// API server as the enforcer does, and waits until it is ready.
func (n *Node) startClusterDNS() error {
	env, err := n.cp.APIServerEnv()
	if err != nil {
		return err
	}
	const name = "coredns"
	labels := map[string]string{clusterDNSLabel: clusterDNSValue}
	return n.install(systemPod{
		what: "the cluster's resolver",
		rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
		also: []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem}, Data: map[string]string{"Corefile": clusterCorefile}},
			&corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: labels},
				Spec: corev1.ServiceSpec{
					ClusterIP: ClusterDNSIP,
					Selector:  labels,
					Ports: []corev1.ServicePort{
						{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
						{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
					},
				},
			},
		},
		pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: corev1.PodSpec{
				// It resolves upstream itself, not through itself.
				DNSPolicy: corev1.DNSDefault,
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot: ptr.To(true),
					Sysctls:      []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
				},
				Containers: []corev1.Container{{
					Name: name, Image: CoreDNSImage, ImagePullPolicy: corev1.PullNever,
					Args:           []string{"-conf", "/etc/coredns/Corefile"},
					Env:            env,
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8181)}}, PeriodSeconds: 1},
					VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/coredns", ReadOnly: true}},
				}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}},
				}}},
			},
		},
		ready: podReady,
	})
}

// UpstreamQueries returns the names the upstream resolver has been asked, in order, each with
// the trailing dot DNS gives it.
func (n *Node) UpstreamQueries() ([]string, error) {
	b, err := os.ReadFile(n.path(upstreamProcess + ".log"))
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "query "); ok {
			names = append(names, name)
		}
	}
	return names, nil
}

// upstreamProcess names the upstream resolver's process and its log.
const upstreamProcess = "outside-resolver"
