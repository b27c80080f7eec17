package authorization

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/lifecycle"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
)

// scope is what one reconcile of an agreement knows.
type scope struct {
	agreement *opv1.Authorization
	orig      *opv1.Authorization
	// domain is the domain whose control namespace holds the agreement; nil when none does.
	domain  *opv1.OperationDomain
	outcome lifecycle.Outcome
	summary conditions.Summary
	// requeueAfter is set by a step that stops to wait for something outside the operator.
	requeueAfter time.Duration
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	steps := []func(context.Context, *scope) (bool, error){
		r.evaluate,
		r.announce,
		r.recordEnding,
	}
	for _, step := range steps {
		if proceed, err := step(ctx, s); err != nil || !proceed {
			return ctrl.Result{RequeueAfter: s.requeueAfter}, err
		}
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// evaluate computes the agreement's phase from its term, suspension, termination, parent, the
// domain's rulebook and the bars on its party (R2), and derives its status from it.
func (r *Reconciler) evaluate(ctx context.Context, s *scope) (bool, error) {
	a := s.agreement
	in := lifecycle.Inputs{Spec: a.Spec, Previous: a.Status, Now: r.Clock.Now()}
	domain, err := index.DomainFor(ctx, r.Client, a.Namespace)
	if err != nil {
		return false, err
	}
	if s.domain = domain; domain != nil {
		policy := rulebook.Of(&domain.Spec)
		in.Policy = &policy
	}
	var peers opv1.AuthorizationList
	if err := r.List(ctx, &peers, client.InNamespace(a.Namespace)); err != nil {
		return false, err
	}
	in.Bar = rules.Barred(a, domain, peers.Items)
	if a.Spec.Parent != "" {
		var parent opv1.Authorization
		if err := r.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.Parent}, &parent); err == nil {
			in.Parent = &parent
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
	}
	s.outcome = lifecycle.Evaluate(in)
	s.summary = deriveStatus(&a.Status, a.Generation, s.outcome)
	return true, nil
}

// announce tells whoever watches the agreement's Events what changed: its phase, and a new
// evaluation warning (news, not only status).
func (r *Reconciler) announce(ctx context.Context, s *scope) (bool, error) {
	a, out := s.agreement, s.outcome
	if out.Warning != "" {
		if prev := meta.FindStatusCondition(s.orig.Status.Conditions, opv1.ConditionEvaluationWarning); prev == nil ||
			prev.Status != metav1.ConditionTrue || prev.Reason != out.WarningReason {
			r.Recorder.Eventf(a, nil, corev1.EventTypeWarning, out.WarningReason, "Evaluate", out.Warning)
		}
	}
	conditions.PhaseChanged(ctx, r.Recorder, a, "agreement", string(s.orig.Status.Phase), string(a.Status.Phase),
		a.Status.Phase == opv1.PhaseActive || a.Status.Phase == opv1.PhasePending, out.Reason, out.Message)
	return true, nil
}

// recordEnding keeps an ended agreement's TeardownRecord, once, in the domain's evidence chain
// (R6); another record taking the chain's next number first means trying again at once.
func (r *Reconciler) recordEnding(ctx context.Context, s *scope) (bool, error) {
	a := s.agreement
	if !a.Status.Phase.Ended() || a.Status.TeardownRecord != "" {
		return true, nil
	}
	name, err := r.endingRecord(ctx, a, s.domain, s.outcome)
	switch {
	case errors.Is(err, evidence.ErrSequenceTaken):
		s.requeueAfter = 10 * time.Millisecond
	case err != nil:
		return false, err
	}
	a.Status.TeardownRecord = name
	return true, nil
}
