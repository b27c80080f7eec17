// Package admission builds the ValidatingAdmissionPolicy that refuses, in every domain
// namespace, what RBAC cannot express: Services that open a namespace to the outside and pods
// bound to the host (R1, R3).
package admission

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// PolicyName names the policy and its binding.
const PolicyName = "opdomain-domain-isolation"

type validation struct{ expression, message string }

var serviceValidations = []validation{{
	expression: "!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer', 'ExternalName'])",
	message:    "spec.type: Services of type NodePort, LoadBalancer or ExternalName are not allowed in an operation domain (opdomain R1)",
}}

var podValidations = []validation{
	{
		expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork",
		message:    "spec.hostNetwork: host networking is not allowed in an operation domain (opdomain R1)",
	},
	{
		expression: "(!has(object.spec.hostPID) || !object.spec.hostPID) && (!has(object.spec.hostIPC) || !object.spec.hostIPC)",
		message:    "spec.hostPID, spec.hostIPC: host namespaces are not allowed in an operation domain (opdomain R1)",
	},
	{
		expression: "[object.spec.containers, has(object.spec.initContainers) ? object.spec.initContainers : []].all(cs, cs.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)))",
		message:    "spec.containers[].ports[].hostPort: host ports are not allowed in an operation domain (opdomain R1)",
	},
	{
		expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))",
		message:    "spec.volumes[].hostPath: host paths are not allowed in an operation domain (opdomain R1)",
	},
}

// Policy returns the ValidatingAdmissionPolicy.
func Policy(labels map[string]string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	fail := admissionregistrationv1.Fail
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName, Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
					rule("services"), rule("pods"),
				},
			},
			Validations: append(
				guarded("services", serviceValidations),
				guarded("pods", podValidations)...,
			),
		},
	}
}

// Binding applies the policy, denying, in every namespace labelled with a domain.
func Binding(labels map[string]string) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName, Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: PolicyName,
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: opv1.LabelDomain, Operator: metav1.LabelSelectorOpExists,
				}}},
			},
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
}

func rule(resource string) admissionregistrationv1.NamedRuleWithOperations {
	return admissionregistrationv1.NamedRuleWithOperations{
		RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource},
			},
		},
	}
}

// guarded makes each validation apply only to its own resource, since one policy covers both.
func guarded(resource string, vs []validation) []admissionregistrationv1.Validation {
	out := make([]admissionregistrationv1.Validation, 0, len(vs))
	for _, v := range vs {
		out = append(out, admissionregistrationv1.Validation{
			Expression: "request.resource.resource != '" + resource + "' || (" + v.expression + ")",
			Message:    v.message,
		})
	}
	return out
}
