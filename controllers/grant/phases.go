package grant

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/rules"
)

// scope is what one reconcile of a grant knows.
type scope struct {
	grant   *opv1.DataGrant
	orig    *opv1.DataGrant
	world   rules.GrantWorld
	outcome Outcome
	summary conditions.Summary
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	steps := []func(context.Context, *scope) (bool, error){
		r.evaluate,
		r.openOrClose,
		r.announce,
	}
	for _, step := range steps {
		if proceed, err := step(ctx, s); err != nil || !proceed {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// evaluate reads what the grant's phase depends on and computes it (R3).
func (r *Reconciler) evaluate(ctx context.Context, s *scope) (bool, error) {
	world, err := ReadWorld(ctx, r.Client, s.grant)
	if err != nil {
		return false, err
	}
	s.world = world
	s.outcome = Evaluate(Inputs{Grant: s.grant, World: world, Now: r.Clock.Now(), CiliumServed: r.Cilium})
	s.summary = summaryOf(s.outcome)
	return true, nil
}

// openOrClose opens the path of an Active grant and closes any other's, and only then says the
// grant is in its new phase.
func (r *Reconciler) openOrClose(ctx context.Context, s *scope) (bool, error) {
	g := s.grant
	if s.outcome.Phase == opv1.GrantActive {
		if err := r.open(ctx, g, s.world); err != nil {
			return false, err
		}
	} else {
		if err := r.close(ctx, g, s.world.Domain); err != nil {
			return false, err
		}
		g.Status.Opened, g.Status.ExpiresAt, g.Status.Credential = nil, nil, nil
	}
	observeCut(g, s.orig, s.outcome.Phase == opv1.GrantActive, r.Clock.Now())
	g.Status.Phase = s.outcome.Phase
	return true, nil
}

// announce tells whoever watches the grant's Events that its phase moved.
func (r *Reconciler) announce(ctx context.Context, s *scope) (bool, error) {
	g, out := s.grant, s.outcome
	conditions.PhaseChanged(ctx, r.Recorder, g, "grant", string(s.orig.Status.Phase), string(g.Status.Phase),
		g.Status.Phase == opv1.GrantActive || g.Status.Phase == opv1.GrantPending, out.Reason, out.Message)
	return true, nil
}

// reconcileDelete closes the grant's path wherever it is, then lets the grant go.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	g := s.grant
	if !controllerutil.ContainsFinalizer(g, opv1.FinalizerGrantPath) {
		return ctrl.Result{}, nil
	}
	d, err := index.DomainFor(ctx, r.Client, g.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.close(ctx, g, d); err != nil {
		return ctrl.Result{}, err
	}
	observeCut(g, s.orig, false, r.Clock.Now())
	patch := client.MergeFrom(g.DeepCopy())
	controllerutil.RemoveFinalizer(g, opv1.FinalizerGrantPath)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, g, patch))
}
