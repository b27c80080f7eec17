package domain

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/grant"
)

// reconcileDelete holds the domain while any agreement is in force or has not recorded its
// ending, or any workspace is not torn down, then releases what the domain made: policies go, created namespaces are deleted, adopted
// ones are unlabelled. A control namespace that holds teardown evidence is kept, so that deleting
// a domain never destroys what R6 says must be retained.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	d := s.domain
	if !controllerutil.ContainsFinalizer(d, opv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	blockers, err := r.blockers(ctx, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(blockers) > 0 {
		msg := "waiting for agreements to end and workspaces to be torn down: " + strings.Join(blockers, ", ")
		conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionDeletionBlocked, true, opv1.ReasonAgreementsRemain, msg)
		s.summary = conditions.Summary{Reason: opv1.ReasonAgreementsRemain, Message: msg, Progressing: true}
		return ctrl.Result{}, nil
	}
	for _, owned := range d.Status.Namespaces {
		if err := r.release(ctx, d, owned); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.Recorder.Eventf(d, nil, corev1.EventTypeNormal, "TornDown", "Delete", "domain released its namespaces")
	patch := client.MergeFrom(d.DeepCopy())
	controllerutil.RemoveFinalizer(d, opv1.Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, d, patch))
}

func (r *Reconciler) blockers(ctx context.Context, d *opv1.OperationDomain) ([]string, error) {
	inNS := client.InNamespace(d.Spec.ControlNamespace)
	var authz opv1.AuthorizationList
	if err := r.List(ctx, &authz, inNS); err != nil {
		return nil, err
	}
	var workspaces opv1.DeveloperWorkspaceList
	if err := r.List(ctx, &workspaces, inNS); err != nil {
		return nil, err
	}
	var out []string
	for _, a := range authz.Items {
		// An ended agreement still owes its TeardownRecord, which needs the domain's chain.
		if !a.Status.Phase.Ended() || a.Status.TeardownRecord == "" {
			out = append(out, "Authorization/"+a.Name)
		}
	}
	for _, w := range workspaces.Items {
		if w.Status.Phase != opv1.WorkspaceTornDown {
			out = append(out, "DeveloperWorkspace/"+w.Name)
		}
	}
	return out, nil
}

func (r *Reconciler) release(ctx context.Context, d *opv1.OperationDomain, owned opv1.OwnedNamespace) error {
	if err := apply.RemoveIsolation(ctx, r.Client, owned.Name); err != nil {
		return err
	}
	// What the operator published for data services goes too, from an adopted namespace.
	for _, name := range []string{grant.IntrospectionConfigMap, grant.JWKSConfigMap} {
		if err := apply.Delete(ctx, r.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owned.Name}}); err != nil {
			return err
		}
	}
	keep := owned.Adopted
	if !keep && owned.Name == d.Spec.ControlNamespace {
		var records opv1.TeardownRecordList
		if err := r.List(ctx, &records, client.InNamespace(owned.Name), client.Limit(1)); err != nil {
			return err
		}
		if keep = len(records.Items) > 0; keep {
			r.Recorder.Eventf(d, nil, corev1.EventTypeNormal, "EvidenceKept", "Delete",
				"kept namespace %s: it holds TeardownRecords under the retention period", owned.Name)
		}
	}
	if !keep {
		return apply.Delete(ctx, r.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: owned.Name}})
	}
	var ns corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: owned.Name}, &ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	for _, l := range []string{opv1.LabelDomain, opv1.LabelOwnerKind, opv1.LabelOwnerName, opv1.LabelComponent} {
		delete(ns.Labels, l)
	}
	if err := r.Patch(ctx, &ns, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("releasing namespace %s: %w", owned.Name, err)
	}
	return nil
}
