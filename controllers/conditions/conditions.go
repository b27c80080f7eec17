// Package conditions keeps Ready, Reconciling and Stalled consistent the way kstatus reads them,
// so `kubectl wait --for=condition=Ready`, Flux and Argo CD understand every opdomain object.
package conditions

import (
	"cmp"
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
)

// Summary is the outcome of one reconcile.
type Summary struct {
	Ready   bool
	Reason  string
	Message string
	// Progressing: the operator is still working towards the desired state.
	Progressing bool
	// Stalled: the operator cannot make progress until someone changes something.
	Stalled bool
}

// Apply writes the summary into conds for an object at generation.
func Apply(conds *[]metav1.Condition, generation int64, s Summary) {
	Set(conds, generation, opv1.ConditionReady, s.Ready, s.Reason, s.Message)
	if s.Progressing {
		Set(conds, generation, opv1.ConditionReconciling, true, opv1.ReasonProgressing, s.Message)
	} else {
		meta.RemoveStatusCondition(conds, opv1.ConditionReconciling)
	}
	if s.Stalled {
		Set(conds, generation, opv1.ConditionStalled, true, s.Reason, s.Message)
	} else {
		meta.RemoveStatusCondition(conds, opv1.ConditionStalled)
	}
}

// Finish records the outcome of a reconcile: an error turns the summary into Progressing with
// the error as message (unless the object is already known to be stalled), and only a reconcile
// without error advances observedGeneration, which is what lets kstatus read Ready or Stalled
// as final.
func Finish(conds *[]metav1.Condition, observedGeneration *int64, generation int64, s Summary, reconcileErr error) {
	if reconcileErr != nil && !s.Stalled {
		s = Summary{Reason: opv1.ReasonApplyFailed, Message: reconcileErr.Error(), Progressing: true}
	}
	Apply(conds, generation, s)
	if reconcileErr == nil {
		*observedGeneration = generation
	}
}

// Write records the outcome of a reconcile on obj's status (Finish) and patches the status
// against orig: the one status write of a reconcile, whatever the kind.
func Write(ctx context.Context, c client.Client, obj, orig client.Object, conds *[]metav1.Condition, observedGeneration *int64, s Summary, reconcileErr error) error {
	Finish(conds, observedGeneration, obj.GetGeneration(), s, reconcileErr)
	return apply.Status(ctx, c, obj, orig)
}

// Set sets one condition.
func Set(conds *[]metav1.Condition, generation int64, condType string, status bool, reason, message string) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: condType, Status: s, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}

// PhaseChanged announces that noun's phase moved from one phase to another, as an Event (a
// Warning unless the new phase is a normal one) and a structured log line; it does nothing
// when the phase did not move.
func PhaseChanged(ctx context.Context, rec events.EventRecorder, obj runtime.Object, noun, from, to string, normal bool, reason, message string) {
	if from == to {
		return
	}
	ctrl.LoggerFrom(ctx).Info(noun+" phase changed", "from", from, "to", to, "reason", reason)
	eventType := corev1.EventTypeWarning
	if normal {
		eventType = corev1.EventTypeNormal
	}
	rec.Eventf(obj, nil, eventType, to, "PhaseChange", "%s is %s: %s", noun, to, cmp.Or(message, reason))
}
