package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// patchDomain tries to change the domain's spec and returns what the API server said.
func patchDomain(d *opv1.OperationDomain, change func(*opv1.OperationDomainSpec)) error {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		return err
	}
	patch := client.MergeFrom(d.DeepCopy())
	change(&d.Spec)
	return k8s.Patch(ctx, d, patch)
}

// R7: a security incident is recorded on its domain; until it is reported to the authority the
// domain says so (IncidentUnreported and a Warning Event); an incident is a record (never
// removed, its type and detection never changed, frozen once reported); an emergency stop names
// the incident that caused it, which must be one of the domain's.
func TestR7_IncidentsAreRecordedReportedAndNamedByTheStop(t *testing.T) {
	g := NewWithT(t)
	d := newDomain(t, "inc1", opv1.NetworkPolicyKubernetes)
	detected := metav1.NewTime(clock.Now().Add(-time.Hour))
	setPolicy(t, d, func(s *opv1.OperationDomainSpec) {
		s.Incidents = []opv1.Incident{{ID: "2026-001", Type: opv1.IncidentUnauthorizedAccess, DetectedAt: detected,
			Note: "a member token used from an unknown address"}}
	})
	g.Eventually(conditionText(d, opv1.ConditionIncidentUnreported), timeout, poll).
		Should(And(HavePrefix("True/"+opv1.ReasonIncidentUnreported), ContainSubstring("2026-001 (UnauthorizedAccess")))

	for what, change := range map[string]func(*opv1.OperationDomainSpec){
		"removed":        func(s *opv1.OperationDomainSpec) { s.Incidents = nil },
		"retyped":        func(s *opv1.OperationDomainSpec) { s.Incidents[0].Type = opv1.IncidentOther },
		"detected later": func(s *opv1.OperationDomainSpec) { s.Incidents[0].DetectedAt = metav1.NewTime(detected.Add(time.Hour)) },
		"reported too early": func(s *opv1.OperationDomainSpec) {
			s.Incidents[0].ReportedAt = &metav1.Time{Time: detected.Add(-time.Minute)}
		},
		"stopped for nothing": func(s *opv1.OperationDomainSpec) {
			s.EmergencyStop = opv1.EmergencyStop{Active: true, Incident: "2026-999"}
		},
		"named, not stopped": func(s *opv1.OperationDomainSpec) { s.EmergencyStop = opv1.EmergencyStop{Incident: "2026-001"} },
	} {
		err := patchDomain(d, change)
		g.Expect(err).To(HaveOccurred(), what)
		g.Expect(err.Error()).To(Or(ContainSubstring("spec.incidents is a record"), ContainSubstring("reportedAt cannot be before detectedAt"),
			ContainSubstring("spec.emergencyStop.incident")), what)
	}

	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) {
		s.EmergencyStop = opv1.EmergencyStop{Active: true, Reason: "incident 2026-001", Incident: "2026-001"}
	})).To(Succeed())
	g.Eventually(conditionText(d, opv1.ConditionEmergencyStop), timeout, poll).Should(HavePrefix("True/"))

	reported := metav1.NewTime(clock.Now())
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) {
		s.Incidents[0].ReportedAt, s.Incidents[0].Reporter = &reported, "Wang Wu, security officer of the operator entity"
	})).To(Succeed())
	g.Eventually(conditionText(d, opv1.ConditionIncidentUnreported), timeout, poll).Should(HavePrefix("False/"))
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) { s.Incidents[0].Note = "nothing happened" })).
		To(MatchError(ContainSubstring("spec.incidents is a record")), "frozen once reported")
	g.Expect(patchDomain(d, func(s *opv1.OperationDomainSpec) { s.EmergencyStop = opv1.EmergencyStop{} })).To(Succeed())
}
