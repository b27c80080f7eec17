package summary

import (
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

const written = "what a workload wrote"

func TestR1_JobSummaryIsAStateAndCounts(t *testing.T) {
	g := NewWithT(t)
	cond := func(ty batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: ty, Status: corev1.ConditionTrue, Reason: "PodFailurePolicy", Message: written}
	}
	for name, tc := range map[string]struct {
		job  batchv1.Job
		want opv1.WorkloadState
	}{
		"complete":  {batchv1.Job{Status: batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobComplete)}}}, opv1.WorkloadSucceeded},
		"failed":    {batchv1.Job{Status: batchv1.JobStatus{Failed: 3, Conditions: []batchv1.JobCondition{cond(batchv1.JobFailed)}}}, opv1.WorkloadFailed},
		"suspended": {batchv1.Job{Spec: batchv1.JobSpec{Suspend: ptr.To(true)}}, opv1.WorkloadSuspended},
		"running":   {batchv1.Job{Status: batchv1.JobStatus{Active: 2}}, opv1.WorkloadRunning},
		"pending":   {batchv1.Job{}, opv1.WorkloadPending},
	} {
		st := Job(&tc.job)
		g.Expect(st.State).To(Equal(tc.want), name)
		g.Expect(st.Active).To(Equal(tc.job.Status.Active), name)
		g.Expect(st.Failed).To(Equal(tc.job.Status.Failed), name)
		b, err := json.Marshal(st)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(b)).NotTo(ContainSubstring(written), name)
		g.Expect(string(b)).NotTo(ContainSubstring("PodFailurePolicy"), name)
	}
}

func TestR1_ReplicatedSummary(t *testing.T) {
	g := NewWithT(t)
	m := &metav1.ObjectMeta{Name: "serve"}
	g.Expect(replicated("Deployment", m, ptr.To(int32(0)), 0).State).To(Equal(opv1.WorkloadStopped))
	g.Expect(replicated("Deployment", m, ptr.To(int32(2)), 1).State).To(Equal(opv1.WorkloadPending))
	g.Expect(replicated("Deployment", m, ptr.To(int32(2)), 2).State).To(Equal(opv1.WorkloadRunning))
	g.Expect(replicated("StatefulSet", m, nil, 1).State).To(Equal(opv1.WorkloadRunning), "replicas default to 1")
}

// The cache keeps no message a workload could have spelled, and no pod template.
func TestR1_TrimKeepsNoMessage(t *testing.T) {
	g := NewWithT(t)
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"a": written}},
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}}}},
		Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: written}}},
	}
	_, err := Trim(j)
	g.Expect(err).NotTo(HaveOccurred())
	b, err := json.Marshal(j)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).NotTo(ContainSubstring(written))
	g.Expect(j.Spec.Template.Spec.Containers).To(BeEmpty())
	g.Expect(Job(j).State).To(Equal(opv1.WorkloadFailed), "the condition's type and status survive")
	d := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{Message: written}}}}
	_, _ = Trim(d)
	g.Expect(d.Status.Conditions).To(BeEmpty())
}

func TestNameFitsAndNeverCollides(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Name("Job", "train")).To(Equal("job-train"))
	g.Expect(Name("CronJob", "train")).NotTo(Equal(Name("Job", "train")))
	long := strings.Repeat("a", 250)
	g.Expect(len(Name("StatefulSet", long))).To(BeNumerically("<=", 253))
	g.Expect(Name("StatefulSet", long)).NotTo(Equal(Name("StatefulSet", long+"b")))
}
