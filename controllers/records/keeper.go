package records

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Keeper looks after each domain's records where they are written, in the recorder: it
// removes the days whose retention (recordRetentionDays) ran out, oldest first, the point they
// reach saved in the domain's status before they go, so that verification resumes from it (R6,
// R8); moves the days that are over into the archive, when there is one, locked until their
// retention runs out; and every AnchorEvery writes the newest record into the status, a copy
// outside the records' own volume, so that records rewritten or cut off before it show to
// verify-evidence. It writes status.records and nothing else of the domain.
type Keeper struct {
	client.Client
	Recorder    events.EventRecorder
	Clock       wakeup.Clock
	Wakeups     *wakeup.Scheduler
	Store       *Store
	AnchorEvery time.Duration
}

// +kubebuilder:rbac:groups=opdomain.io,resources=operationdomains,verbs=get;list;watch
// +kubebuilder:rbac:groups=opdomain.io,resources=operationdomains/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile keeps one domain's records: retention, archive, anchor.
func (k *Keeper) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var d opv1.OperationDomain
	if err := k.Get(ctx, req.NamespacedName, &d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !d.DeletionTimestamp.IsZero() {
		// Its records outlive it, as evidence does; the last anchor stays in its TeardownRecords.
		return ctrl.Result{}, nil
	}
	orig, st, now := d.DeepCopy(), &d.Status.Records, k.Clock.Now()
	policy := rulebook.Of(&d.Spec)
	days := int(policy.RecordRetentionDays)
	due, err := k.Store.Retention(ctx, d.Name, days, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(due.Segments) > 0 {
		if due.Through.Sequence > st.Pruned.Sequence {
			st.Pruned = opv1.ChainLink{Sequence: due.Through.Sequence, Digest: due.Through.Digest}
			if orig, err = apply.StatusNow(ctx, k.Client, &d, orig); err != nil {
				return ctrl.Result{}, err
			}
		}
		switch err := k.Store.Remove(ctx, d.Name, due.Segments); {
		case errors.Is(err, ErrLocked):
			// The store's clock is behind the operator's: its lock ends a little later, and the
			// domain's next look (AnchorEvery at the latest) removes them.
			k.Recorder.Eventf(&d, nil, corev1.EventTypeNormal, "RecordsLocked", "Prune",
				"the records' archive keeps records up to %d under its lock a while longer: %v", due.Through.Sequence, err)
		case err != nil:
			return ctrl.Result{}, err
		default:
			k.Recorder.Eventf(&d, nil, corev1.EventTypeNormal, "RecordsExpired", "Prune",
				"removed operation records up to %d after %d days of retention (%s)", due.Through.Sequence, days, policy.Source("recordRetentionDays"))
		}
	}
	if _, err := k.Store.Ship(ctx, d.Name, days, now); err != nil {
		return ctrl.Result{}, err
	}
	if st.AnchoredAt == nil || !now.Before(st.AnchoredAt.Add(k.AnchorEvery)) {
		head, err := k.Store.Head(ctx, d.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		st.Head, st.AnchoredAt = opv1.ChainLink{Sequence: head.Sequence, Digest: head.Digest}, &metav1.Time{Time: now}
		if _, err := apply.StatusNow(ctx, k.Client, &d, orig); err != nil {
			return ctrl.Result{}, err
		}
	}
	k.Wakeups.At(&d, wakeup.Earliest(due.Next, st.AnchoredAt.Add(k.AnchorEvery)))
	return ctrl.Result{}, nil
}

// SetupWithManager wakes the keeper for every domain when it appears, when its spec (its
// retention) changes, and when its records are due: a retention running out, an anchor. Status
// changes, its own and the domain reconciler's, are not its business.
func (k *Keeper) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&opv1.OperationDomain{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(k.Wakeups.Source()).
		Named("operationrecords").
		Complete(k)
}
