// Package summary keeps the WorkloadSummaries of sealed workspaces: for each workload a state
// and counts, the only view of their work that members of a sealed workspace get (R1: data is
// usable, not visible). A summary is computed from the workload controllers' counts and
// conditions' types; no message, reason or exit code is ever copied into it.
package summary

import (
	"context"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/names"
)

// component labels every summary, so the operator lists only its own.
const component = "workload-summary"

// Reconciler keeps the summaries of one namespace at a time: every workload event in a sealed
// namespace re-derives the namespace's summaries from the cache and writes only what changed.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=opdomain.io,resources=workloadsummaries,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch

// Reconcile brings the summaries of the namespace req.Name in line with its workloads: one per
// workload while the namespace is sealed, none otherwise.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := req.Name
	var namespace corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	want := map[string]*opv1.WorkloadSummary{}
	if namespace.Labels[opv1.LabelSealed] == "true" && namespace.DeletionTimestamp.IsZero() {
		statuses, err := r.workloads(ctx, ns)
		if err != nil {
			return ctrl.Result{}, err
		}
		for _, st := range statuses {
			o := &opv1.WorkloadSummary{
				TypeMeta: metav1.TypeMeta{APIVersion: opv1.GroupVersion.String(), Kind: "WorkloadSummary"},
				ObjectMeta: metav1.ObjectMeta{Name: Name(st.Workload.Kind, st.Workload.Name), Namespace: ns, Labels: map[string]string{
					opv1.LabelDomain: namespace.Labels[opv1.LabelDomain], opv1.LabelComponent: component,
				}},
				WorkloadObservation: st,
			}
			want[o.Name] = o
		}
	}
	var have opv1.WorkloadSummaryList
	if err := r.List(ctx, &have, client.InNamespace(ns), client.MatchingLabels{opv1.LabelComponent: component}); err != nil {
		return ctrl.Result{}, err
	}
	for i := range have.Items {
		if _, ok := want[have.Items[i].Name]; !ok {
			if err := apply.Delete(ctx, r.Client, &have.Items[i]); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	for _, w := range want {
		if err := apply.Cached(ctx, r.Client, w); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// Name is the name of a workload's summary: kind-name, hashed when that would be too long.
func Name(kind, workload string) string {
	name := strings.ToLower(kind) + "-" + workload
	if len(name) <= 253 {
		return name
	}
	return names.Slug(name, 253)
}

// workloads summarizes every workload of a namespace, from the cache.
func (r *Reconciler) workloads(ctx context.Context, ns string) ([]opv1.WorkloadObservation, error) {
	in := client.InNamespace(ns)
	var (
		jobs         batchv1.JobList
		cronJobs     batchv1.CronJobList
		deployments  appsv1.DeploymentList
		statefulSets appsv1.StatefulSetList
	)
	for _, l := range []client.ObjectList{&jobs, &cronJobs, &deployments, &statefulSets} {
		if err := r.List(ctx, l, in); err != nil {
			return nil, err
		}
	}
	var out []opv1.WorkloadObservation
	for i := range jobs.Items {
		out = append(out, Job(&jobs.Items[i]))
	}
	for i := range cronJobs.Items {
		out = append(out, CronJob(&cronJobs.Items[i]))
	}
	for i := range deployments.Items {
		d := &deployments.Items[i]
		out = append(out, replicated("Deployment", &d.ObjectMeta, d.Spec.Replicas, d.Status.ReadyReplicas))
	}
	for i := range statefulSets.Items {
		s := &statefulSets.Items[i]
		out = append(out, replicated("StatefulSet", &s.ObjectMeta, s.Spec.Replicas, s.Status.ReadyReplicas))
	}
	return out, nil
}

func ref(kind string, m *metav1.ObjectMeta) opv1.WorkloadRef {
	return opv1.WorkloadRef{Kind: kind, Name: m.Name, UID: string(m.UID)}
}

// Job summarizes a Job by the types of its terminal conditions and its pod counts.
func Job(j *batchv1.Job) opv1.WorkloadObservation {
	st := opv1.WorkloadObservation{Workload: ref("Job", &j.ObjectMeta), Desired: j.Spec.Completions,
		Active: j.Status.Active, Succeeded: j.Status.Succeeded, Failed: j.Status.Failed}
	holds := func(t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case holds(batchv1.JobComplete):
		st.State = opv1.WorkloadSucceeded
	case holds(batchv1.JobFailed):
		st.State = opv1.WorkloadFailed
	case j.Spec.Suspend != nil && *j.Spec.Suspend:
		st.State = opv1.WorkloadSuspended
	case j.Status.Active > 0:
		st.State = opv1.WorkloadRunning
	default:
		st.State = opv1.WorkloadPending
	}
	return st
}

// CronJob summarizes a CronJob: scheduled or suspended, and how many of its Jobs run.
func CronJob(c *batchv1.CronJob) opv1.WorkloadObservation {
	st := opv1.WorkloadObservation{Workload: ref("CronJob", &c.ObjectMeta), State: opv1.WorkloadScheduled, Active: int32(len(c.Status.Active))} //nolint:gosec // a count of Jobs
	if c.Spec.Suspend != nil && *c.Spec.Suspend {
		st.State = opv1.WorkloadSuspended
	}
	return st
}

// replicated summarizes a Deployment or StatefulSet by desired and ready replicas.
func replicated(kind string, m *metav1.ObjectMeta, desired *int32, ready int32) opv1.WorkloadObservation {
	st := opv1.WorkloadObservation{Workload: ref(kind, m), Desired: desired, Ready: ready}
	want := int32(1)
	if desired != nil {
		want = *desired
	}
	switch {
	case want == 0:
		st.State = opv1.WorkloadStopped
	case ready >= want:
		st.State = opv1.WorkloadRunning
	default:
		st.State = opv1.WorkloadPending
	}
	return st
}

// SetupWithManager watches namespaces, the four workload kinds and the summaries themselves,
// each mapped to its namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetNamespace()}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("workloadsummary").
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetName()}}}
		})).
		Watches(&batchv1.Job{}, toNamespace).
		Watches(&batchv1.CronJob{}, toNamespace).
		Watches(&appsv1.Deployment{}, toNamespace).
		Watches(&appsv1.StatefulSet{}, toNamespace).
		Watches(&opv1.WorkloadSummary{}, toNamespace).
		Complete(r)
}

// Trim is the cache transform of the four workload kinds: the operator keeps of them only what
// a summary reads, so that caching every workload of the cluster costs little memory, and no
// message a workload could have spelled sits in the operator's memory either.
func Trim(o any) (any, error) {
	switch w := o.(type) {
	case *batchv1.Job:
		w.Spec.Template = corev1.PodTemplateSpec{}
		for i := range w.Status.Conditions {
			w.Status.Conditions[i] = batchv1.JobCondition{Type: w.Status.Conditions[i].Type, Status: w.Status.Conditions[i].Status}
		}
	case *batchv1.CronJob:
		w.Spec.JobTemplate = batchv1.JobTemplateSpec{}
	case *appsv1.Deployment:
		w.Spec.Template = corev1.PodTemplateSpec{}
		w.Status.Conditions = nil
	case *appsv1.StatefulSet:
		w.Spec.Template = corev1.PodTemplateSpec{}
		w.Spec.VolumeClaimTemplates = nil
		w.Status.Conditions = nil
	}
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	return o, nil
}
