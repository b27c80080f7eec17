// Package admission builds the ValidatingAdmissionPolicy that refuses, in every domain
// namespace and for every identity, what RBAC cannot express: Services that open a namespace to
// the outside, pods bound to the host, anything the node fetches or binds on a pod's behalf
// (volumes, images, credentials), copies of volumes made behind the grants, and the channels
// by which a workload's own output reaches a member's kubectl (R1, R3, R4).
//
// One policy serves every domain; each domain binds it to its own namespaces with itself as the
// parameter, so the rules read the domain's current settings (its allowed registries) with no
// copy to keep in step, and a namespace whose domain is gone is refused everything.
package admission

import (
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/airlock"
	"github.com/opdomain/opdomain/controllers/dataimport"
	"github.com/opdomain/opdomain/controllers/fence"
	"github.com/opdomain/opdomain/controllers/names"
)

// domainParam makes the OperationDomain the parameter of both policies.
var domainParam = &admissionregistrationv1.ParamKind{APIVersion: opv1.GroupVersion.String(), Kind: "OperationDomain"}

// PolicyName names the policy; each domain's binding is named after it and the domain.
const PolicyName = "opdomain-domain-isolation"

// BindingName is the name of a domain's binding of the policy.
func BindingName(domain string) string { return names.Slug(PolicyName+"-"+domain, 253) }

// binders are the identities kube-controller-manager's volume binder runs as; they, and the
// operator, may set a claim's volumeName after creation.
var binders = []string{"system:kube-controller-manager", "system:serviceaccount:kube-system:persistent-volume-binder"}

type validation struct {
	// resources and subresources select the requests the rule reads (the main resource when
	// subresources is empty); operation limits it to one operation, CREATE and UPDATE when
	// empty (DELETE only when named).
	resources    []string
	subresources []string
	operation    admissionregistrationv1.OperationType
	expression   string
	// message is a fixed message; messageExpression one computed from the request.
	message, messageExpression string
}

// variables are the rules shared by several validations, as CEL variables. A pod's containers
// are read through three lists because containers, init containers and ephemeral containers are
// distinct types. The fence's image is the operator's, not an import: no registry list applies.
func variables(f fence.Config) []admissionregistrationv1.Variable {
	initImages := "variables.initContainers"
	if f.Enabled() {
		initImages += ".filter(c, !(c.name == " + strconv.Quote(fence.ContainerName) + " && c.image == " + strconv.Quote(f.Image) + "))"
	}
	return []admissionregistrationv1.Variable{
		{Name: "containers", Expression: "object.spec.containers"},
		{Name: "initContainers", Expression: "has(object.spec.initContainers) ? object.spec.initContainers : []"},
		{Name: "ephemeralContainers", Expression: "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []"},
		{Name: "images", Expression: "variables.containers.map(c, c.image) + " + initImages + ".map(c, c.image) + variables.ephemeralContainers.map(c, c.image)"},
		// An update may keep the images a pod already runs even after the domain's list changed;
		// only images it adds are checked.
		{Name: "oldImages", Expression: "request.operation != 'UPDATE' ? [] : oldObject.spec.containers.map(c, c.image) + " +
			"(has(oldObject.spec.initContainers) ? oldObject.spec.initContainers.map(c, c.image) : []) + " +
			"(has(oldObject.spec.ephemeralContainers) ? oldObject.spec.ephemeralContainers.map(c, c.image) : [])"},
		{Name: "registries", Expression: "has(params.spec.images) && has(params.spec.images.allowedRegistries) ? params.spec.images.allowedRegistries : []"},
		{Name: "requireDigest", Expression: "has(params.spec.images) && has(params.spec.images.requireDigest) && params.spec.images.requireDigest"},
		{Name: "refusedImages", Expression: "variables.images.filter(i, !(i in variables.oldImages || " +
			"(variables.registries.exists(r, i.startsWith(r + '/')) && (!variables.requireDigest || i.matches('@sha256:[0-9a-f]{64}$')))))"},
		{Name: "volumes", Expression: "has(object.spec.volumes) ? object.spec.volumes : []"},
		{Name: "sealed", Expression: "has(namespaceObject.metadata.labels) && " + strconv.Quote(opv1.LabelSealed) + " in namespaceObject.metadata.labels && " +
			"namespaceObject.metadata.labels[" + strconv.Quote(opv1.LabelSealed) + "] == 'true'"},
		{Name: "workspace", Expression: "has(namespaceObject.metadata.labels) && " + strconv.Quote(opv1.LabelOwnerKind) + " in namespaceObject.metadata.labels && " +
			"namespaceObject.metadata.labels[" + strconv.Quote(opv1.LabelOwnerKind) + "] == " + strconv.Quote(opv1.OwnerKindWorkspace)},
	}
}

// workloads are the kinds members of a sealed workspace create and delete, never read.
var workloads = []string{"deployments", "statefulsets", "jobs", "cronjobs"}

// volumeKinds are the pod volumes that hold only what the namespace itself holds; every other
// kind (csi, image, hostPath, gitRepo, nfs, iscsi, ...) is something the node fetches or mounts
// from outside any network policy.
const volumeKinds = "has(v.configMap) || has(v.secret) || has(v.downwardAPI) || has(v.emptyDir) || has(v.persistentVolumeClaim) || has(v.ephemeral) || has(v.projected)"

// noExecProbe is true when a container runs no command on the kubelet's behalf: the output of
// exec probes and exec lifecycle hooks is copied into Events, which members read.
const noExecProbe = "(!has(c.livenessProbe) || !has(c.livenessProbe.exec)) && (!has(c.readinessProbe) || !has(c.readinessProbe.exec)) && " +
	"(!has(c.startupProbe) || !has(c.startupProbe.exec)) && " +
	"(!has(c.lifecycle) || ((!has(c.lifecycle.postStart) || !has(c.lifecycle.postStart.exec)) && (!has(c.lifecycle.preStop) || !has(c.lifecycle.preStop.exec))))"

const noLogFallback = "!has(c.terminationMessagePolicy) || c.terminationMessagePolicy != 'FallbackToLogsOnError'"

// unboundClaim is true for a claim spec that neither copies a volume nor names one to bind.
func unboundClaim(spec string) string {
	return "!has(" + spec + ".dataSource) && !has(" + spec + ".dataSourceRef) && (!has(" + spec + ".volumeName) || " + spec + ".volumeName == '')"
}

func validations(operator string, f fence.Config) []validation {
	const ephemeral = "ephemeralcontainers"
	pod, services, claims := []string{"pods"}, []string{"services"}, []string{"persistentvolumeclaims"}
	create := admissionregistrationv1.Create
	// Cluster components delete workloads too (garbage collector, CronJob history, namespace
	// deletion) and never answer to a member.
	component := "request.userInfo.username in " + quoted([]string{operator, "system:kube-controller-manager"}) +
		" || request.userInfo.username.startsWith('system:serviceaccount:kube-system:')"
	noFinalizers := func(o string) string {
		return "!has(" + o + ".metadata.finalizers) || size(" + o + ".metadata.finalizers) == 0"
	}
	vs := []validation{
		{resources: services, expression: "!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer', 'ExternalName'])",
			message: "spec.type: Services of type NodePort, LoadBalancer or ExternalName are not allowed in an operation domain (opdomain R1)"},
		{resources: services, expression: "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
			message: "spec.externalIPs: a Service may not claim external addresses in an operation domain; it would capture traffic meant for them (CVE-2020-8554; opdomain R1)"},

		{resources: pod, expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork",
			message: "spec.hostNetwork: host networking is not allowed in an operation domain (opdomain R1)"},
		{resources: pod, expression: "(!has(object.spec.hostPID) || !object.spec.hostPID) && (!has(object.spec.hostIPC) || !object.spec.hostIPC)",
			message: "spec.hostPID, spec.hostIPC: host namespaces are not allowed in an operation domain (opdomain R1)"},
		{resources: pod, expression: "[variables.containers, variables.initContainers].all(cs, cs.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)))",
			message: "spec.containers[].ports[].hostPort: host ports are not allowed in an operation domain (opdomain R1)"},
		{resources: pod, operation: create, expression: "!has(object.spec.nodeName) || object.spec.nodeName == ''",
			message: "spec.nodeName: a pod is placed by the scheduler; naming a node bypasses it and every check it runs (opdomain R1)"},
		{resources: pod, operation: create, expression: "variables.volumes.all(v, " + volumeKinds + ")",
			message: "spec.volumes[]: only configMap, secret, downwardAPI, emptyDir, persistentVolumeClaim, ephemeral and projected volumes are allowed in an operation domain; " +
				"csi, image, hostPath and other volumes are fetched or mounted by the node outside any network policy (opdomain R1, R4)"},
		{resources: pod, operation: create, expression: "variables.volumes.all(v, !has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, has(s.configMap) || has(s.secret) || has(s.downwardAPI)))",
			message: "spec.volumes[].projected.sources[].serviceAccountToken: pods in an operation domain hold no ServiceAccount token or other credential issued by the node; " +
				"set automountServiceAccountToken: false (opdomain R1)"},
		{resources: pod, operation: create, expression: "variables.volumes.all(v, !has(v.ephemeral) || !has(v.ephemeral.volumeClaimTemplate) || (" + unboundClaim("v.ephemeral.volumeClaimTemplate.spec") + "))",
			message: "spec.volumes[].ephemeral.volumeClaimTemplate.spec.dataSource: an ephemeral volume may not copy or bind an existing volume; granted data arrives only through a DataGrant (opdomain R4)"},
		// The operator's own pods are the airlock's, which run the manager's image.
		{resources: pod, subresources: []string{"", ephemeral}, expression: "request.userInfo.username == " + strconv.Quote(operator) + " || size(variables.refusedImages) == 0",
			messageExpression: "'spec.containers[].image: ' + variables.refusedImages.join(', ') + ' is not from a registry in spec.images.allowedRegistries of OperationDomain ' + " +
				"params.metadata.name + (variables.requireDigest ? ' or is not pinned by a sha256 digest' : '') + '; images are imports and come only from reviewed registries (opdomain R4)'"},
		{resources: pod, operation: create, expression: "[variables.containers, variables.initContainers].all(cs, cs.all(c, " + noExecProbe + "))",
			message: "spec.containers[].livenessProbe.exec, readinessProbe.exec, startupProbe.exec, lifecycle.*.exec: the output of commands the kubelet runs is copied into Events that members read; " +
				"use httpGet, tcpSocket or grpc probes (opdomain R1: data is usable, not visible)"},
		{resources: pod, operation: create, expression: "[variables.containers, variables.initContainers].all(cs, cs.all(c, " + noLogFallback + "))",
			message: "spec.containers[].terminationMessagePolicy: FallbackToLogsOnError copies the tail of a container's log into pod status that members read (opdomain R1: data is usable, not visible)"},
		{resources: pod, subresources: []string{ephemeral}, expression: "variables.ephemeralContainers.all(c, " + noLogFallback + ")",
			message: "spec.ephemeralContainers[].terminationMessagePolicy: FallbackToLogsOnError copies the tail of a container's log into pod status that members read (opdomain R1)"},

		{resources: claims, operation: create, expression: "request.userInfo.username == " + strconv.Quote(operator) + " || " +
			"!(object.metadata.name.startsWith(" + strconv.Quote(airlock.SealClaimPrefix) + ") || object.metadata.name.startsWith(" + strconv.Quote(dataimport.ClaimPrefix) + "))",
			message: "metadata.name: claims named " + airlock.SealClaimPrefix + "* and " + dataimport.ClaimPrefix + "* hold the artifacts the operator seals and the imports it delivers; " +
				"only the operator makes them (opdomain R4, R5)"},
		{resources: pod, operation: create, expression: "variables.volumes.all(v, !has(v.persistentVolumeClaim) || !v.persistentVolumeClaim.claimName.startsWith(" +
			strconv.Quote(dataimport.ClaimPrefix) + ") || (has(v.persistentVolumeClaim.readOnly) && v.persistentVolumeClaim.readOnly))",
			message: "spec.volumes[].persistentVolumeClaim.readOnly: a claim named " + dataimport.ClaimPrefix + "* holds reviewed outside data, delivered read-only: " +
				"mount it with readOnly: true (opdomain R4)"},
		{resources: pod, operation: create, expression: "request.userInfo.username == " + strconv.Quote(operator) + " || " +
			"variables.volumes.all(v, !has(v.persistentVolumeClaim) || !v.persistentVolumeClaim.claimName.startsWith(" + strconv.Quote(airlock.SealClaimPrefix) + "))",
			message: "spec.volumes[].persistentVolumeClaim.claimName: a claim named " + airlock.SealClaimPrefix + "* holds an artifact the operator is sealing for review, " +
				"out of every member's reach; only the operator's own pods mount it (opdomain R5)"},
		{resources: claims, operation: create, expression: "request.userInfo.username == " + strconv.Quote(operator) + " || (" + unboundClaim("object.spec") + ")",
			message: "spec.dataSource, spec.dataSourceRef, spec.volumeName: a claim may not copy or bind an existing volume in an operation domain; " +
				"granted data arrives only through a DataGrant, as a read-only claim the operator makes (opdomain R4)"},
		{resources: claims, operation: admissionregistrationv1.Update,
			expression: "!has(object.spec.volumeName) || object.spec.volumeName == '' || (has(oldObject.spec.volumeName) && oldObject.spec.volumeName == object.spec.volumeName) || " +
				"request.userInfo.username in " + quoted(append([]string{operator}, binders...)),
			message: "spec.volumeName: only the cluster's volume binder binds a claim to a volume in an operation domain (opdomain R4)"},

		// A delete answers with the object itself, status and all, when the object has
		// finalizers or the delete orphans or waits for dependents; with Background and no
		// finalizers it answers with a Status naming the object (workloads' stores do not return
		// deleted objects). So in a sealed workspace only that delete is admitted.
		{resources: workloads, operation: admissionregistrationv1.Delete,
			expression: "!variables.sealed || " + component + " || (has(request.options) && has(request.options.propagationPolicy) && " +
				"request.options.propagationPolicy == 'Background' && (" + noFinalizers("oldObject") + "))",
			message: "propagationPolicy: in a sealed workspace a workload is deleted only with propagationPolicy Background and no finalizers " +
				"(kubectl delete --cascade=background --wait=false), so that the answer names it and carries none of its status (opdomain R1: data is usable, not visible)"},
		{resources: workloads, operation: create, expression: "!variables.sealed || " + noFinalizers("object"),
			message: "metadata.finalizers: a workload in a sealed workspace carries no finalizers; deleting it would answer with the whole object, status included (opdomain R1)"},
	}
	if f.Enabled() {
		first := "variables.initContainers[0]"
		vs = append(vs, validation{resources: pod, operation: create,
			expression: "!variables.workspace || (size(variables.initContainers) > 0 && " + first + ".name == " + strconv.Quote(fence.ContainerName) +
				" && " + first + ".image == " + strconv.Quote(f.Image) + " && !has(" + first + ".command) && has(" + first + ".args) && " + first + ".args == " + quoted(f.Args()) + ")",
			message: "spec.initContainers[0]: a workspace pod starts with the network fence " + fence.ContainerName + " (" + f.Image + "), which holds its containers " +
				"until the node's NetworkPolicy enforcer holds the pod; MutatingAdmissionPolicy " + FencePolicyName + " adds it on creation (opdomain R1)"})
	}
	return vs
}

// Policy returns the ValidatingAdmissionPolicy. operator is the operator's own user name: it
// alone makes claims from a data source (the copies a volume grant delivers). With the fence
// enabled, a workspace pod without it is refused.
func Policy(labels map[string]string, operator string, f fence.Config) *admissionregistrationv1.ValidatingAdmissionPolicy {
	fail := admissionregistrationv1.Fail
	vs := validations(operator, f)
	out := make([]admissionregistrationv1.Validation, 0, len(vs))
	for _, v := range vs {
		out = append(out, admissionregistrationv1.Validation{
			Expression:        v.guard() + " || (" + v.expression + ")",
			Message:           v.message,
			MessageExpression: v.messageExpression,
		})
	}
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName, Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			ParamKind:     domainParam,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
					rule("", "services"), rule("", "pods"), rule("", "pods/ephemeralcontainers"), rule("", "persistentvolumeclaims"),
					rule("apps", "deployments", admissionregistrationv1.Create, admissionregistrationv1.Delete),
					rule("apps", "statefulsets", admissionregistrationv1.Create, admissionregistrationv1.Delete),
					rule("batch", "jobs", admissionregistrationv1.Create, admissionregistrationv1.Delete),
					rule("batch", "cronjobs", admissionregistrationv1.Create, admissionregistrationv1.Delete),
				},
			},
			Variables:   variables(f),
			Validations: out,
		},
	}
}

// guard makes a validation apply only to its own requests, since one policy covers them all:
// the guard is true, and the validation passes, for every other request.
func (v validation) guard() string {
	subresources := v.subresources
	if len(subresources) == 0 {
		subresources = []string{""}
	}
	g := "!(request.resource.resource in " + quoted(v.resources) + ") || !((has(request.subResource) ? request.subResource : '') in " + quoted(subresources) + ")"
	if v.operation != "" {
		g += " || request.operation != '" + string(v.operation) + "'"
	}
	return g
}

// Binding applies the policy, denying, in every namespace of the domain (boundTo).
func Binding(domain string, labels map[string]string) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	param, match := boundTo(domain)
	return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: BindingName(domain), Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: PolicyName, ParamRef: param, MatchResources: match,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
}

// boundTo is where a domain binds both policies: its own namespaces, with itself as the
// parameter, refusing every request there should it be gone.
func boundTo(domain string) (*admissionregistrationv1.ParamRef, *admissionregistrationv1.MatchResources) {
	deny := admissionregistrationv1.DenyAction
	return &admissionregistrationv1.ParamRef{Name: domain, ParameterNotFoundAction: &deny},
		&admissionregistrationv1.MatchResources{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{opv1.LabelDomain: domain}},
		}
}

// quoted renders strings as a CEL list literal.
func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// rule matches a v1 resource of an API group for the operations named, or for CREATE and UPDATE.
func rule(group, resource string, operations ...admissionregistrationv1.OperationType) admissionregistrationv1.NamedRuleWithOperations {
	if len(operations) == 0 {
		operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	}
	return admissionregistrationv1.NamedRuleWithOperations{
		RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: operations,
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: []string{resource},
			},
		},
	}
}

// DNSPolicyName names the mutating policy that points a domain's pods at the domain's own
// resolver; each domain binds it to its namespaces, with itself as the parameter.
const DNSPolicyName = "opdomain-domain-dns"

// DNSBindingName is the name of a domain's binding of the DNS policy.
func DNSBindingName(domain string) string { return names.Slug(DNSPolicyName+"-"+domain, 253) }

// DNSPolicy returns the MutatingAdmissionPolicy that sets, on every pod created in a domain that
// names a resolver, the resolver as the pod's only name server, with the cluster's search path.
// It is convenience, not the fence: the network policies let DNS reach only that resolver, so a
// pod that escaped it could resolve nothing.
func DNSPolicy(labels map[string]string) *admissionregistrationv1.MutatingAdmissionPolicy {
	fail := admissionregistrationv1.Fail
	return &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: DNSPolicyName, Labels: labels},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			ParamKind:        domainParam,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{rule("", "pods", admissionregistrationv1.Create)}},
			Variables: []admissionregistrationv1.Variable{
				{Name: "resolver", Expression: "has(params.status.dns) && has(params.status.dns.resolverIP) ? string(params.status.dns.resolverIP) : ''"},
				{Name: "clusterDomain", Expression: "has(params.spec.dns) && has(params.spec.dns.clusterDomain) ? string(params.spec.dns.clusterDomain) : 'cluster.local'"},
			},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: "variables.resolver == '' ? [] : [" +
					"JSONPatch{op: 'add', path: '/spec/dnsPolicy', value: 'None'}, " +
					"JSONPatch{op: 'add', path: '/spec/dnsConfig', value: Object.spec.dnsConfig{" +
					"nameservers: [string(variables.resolver)], " +
					"searches: [request.namespace + '.svc.' + string(variables.clusterDomain), 'svc.' + string(variables.clusterDomain), string(variables.clusterDomain)], " +
					"options: [Object.spec.dnsConfig.options{name: 'ndots', value: '5'}]}}]"},
			}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
}

// DNSBinding applies the DNS policy in every namespace of the domain.
func DNSBinding(domain string, labels map[string]string) *admissionregistrationv1.MutatingAdmissionPolicyBinding {
	param, match := boundTo(domain)
	return &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: DNSBindingName(domain), Labels: labels},
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: DNSPolicyName, ParamRef: param, MatchResources: match},
	}
}

// FinalizerPolicyName names the mutating policy that puts the teardown finalizer on every
// DeveloperWorkspace as it is created, so that even one deleted before the operator first saw it
// waits for its teardown and leaves its record (R6: every ending leaves evidence).
const FinalizerPolicyName = "opdomain-workspace-finalizer"

// FinalizerBindingName is the name of a domain's binding of the finalizer policy.
func FinalizerBindingName(domain string) string {
	return names.Slug(FinalizerPolicyName+"-"+domain, 253)
}

// FinalizerPolicy returns the MutatingAdmissionPolicy that adds opv1.Finalizer to a created
// workspace; finalizers are a set, so one already there is kept once.
func FinalizerPolicy(labels map[string]string) *admissionregistrationv1.MutatingAdmissionPolicy {
	fail := admissionregistrationv1.Fail
	return &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: FinalizerPolicyName, Labels: labels},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{
						APIGroups: []string{opv1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"developerworkspaces"},
					},
				},
			}}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: "Object{metadata: Object.metadata{finalizers: [" + strconv.Quote(opv1.Finalizer) + "]}}",
				},
			}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
}

// FinalizerBinding applies the finalizer policy in the domain's namespaces (workspaces live in
// its control namespace).
func FinalizerBinding(domain string, labels map[string]string) *admissionregistrationv1.MutatingAdmissionPolicyBinding {
	_, match := boundTo(domain)
	return &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: FinalizerBindingName(domain), Labels: labels},
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: FinalizerPolicyName, MatchResources: match},
	}
}

// FencePolicyName names the mutating policy that makes the network fence (controllers/fence) the
// first init container of every pod created in a workspace.
const FencePolicyName = "opdomain-network-fence"

// FenceBindingName is the name of a domain's binding of the fence policy.
func FenceBindingName(domain string) string { return names.Slug(FencePolicyName+"-"+domain, 253) }

// FencePolicy returns the MutatingAdmissionPolicy that puts the fence before every other init
// container of a created pod: restricted as Pod Security's restricted level asks, with requests
// and limits of its own, so that no quota or LimitRange of the workspace has to make room for it.
func FencePolicy(labels map[string]string, f fence.Config) *admissionregistrationv1.MutatingAdmissionPolicy {
	fail := admissionregistrationv1.Fail
	const c = "Object.spec.initContainers"
	container := c + "{name: " + strconv.Quote(fence.ContainerName) + ", image: " + strconv.Quote(f.Image) + ", args: " + quoted(f.Args()) +
		", imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File'" +
		", resources: " + c + ".resources{requests: {'cpu': '10m', 'memory': '16Mi'}, limits: {'cpu': '100m', 'memory': '32Mi'}}" +
		", securityContext: " + c + ".securityContext{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true" +
		", capabilities: " + c + ".securityContext.capabilities{drop: ['ALL']}" +
		", seccompProfile: " + c + ".securityContext.seccompProfile{type: 'RuntimeDefault'}}}"
	return &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: FencePolicyName, Labels: labels},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{rule("", "pods", admissionregistrationv1.Create)}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				// One add, whose value is the whole list: it makes the list or replaces it.
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: "[JSONPatch{op: 'add', path: '/spec/initContainers', value: [" + container + "] + " +
					"(has(object.spec.initContainers) ? object.spec.initContainers : [])}]"},
			}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
}

// FenceBinding applies the fence policy in the domain's workspace namespaces.
func FenceBinding(domain string, labels map[string]string) *admissionregistrationv1.MutatingAdmissionPolicyBinding {
	return &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: FenceBindingName(domain), Labels: labels},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: FencePolicyName,
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				opv1.LabelDomain: domain, opv1.LabelOwnerKind: opv1.OwnerKindWorkspace,
			}}},
		},
	}
}
