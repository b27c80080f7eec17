package records

// The recorder runs as its own ServiceAccount, with a ClusterRole generated from this package
// alone (`make manifests` writes it into the chart as <release>-recorder): what the keeper, the receiver, the
// records' API and the recorder's metrics need, and nothing of the manager's. The front proxy's
// CA it reads through the cluster's own Role kube-system/extension-apiserver-authentication-reader.

// +kubebuilder:rbac:groups="",resources=namespaces;serviceaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
