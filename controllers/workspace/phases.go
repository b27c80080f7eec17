package workspace

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/dns"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/rbac"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/tenancy"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// scope is one reconcile's view of a workspace and what it hangs under.
type scope struct {
	ws     *opv1.DeveloperWorkspace
	orig   *opv1.DeveloperWorkspace
	now    time.Time
	domain *opv1.OperationDomain
	authz  *opv1.Authorization
	// parent is a Developer agreement's Operator agreement.
	parent *opv1.Authorization
	// eligible are the members who may hold access: trained persons of the agreement.
	eligible []opv1.Person
	// operatorPersons maps the people of the domain's Operator agreements to their agreement;
	// none of them may work in a workspace under a Developer agreement.
	operatorPersons map[string]string
	summary         conditions.Summary
	// next is the earliest instant the workspace must be looked at again.
	next time.Time
	// logs says whether members may read pod logs, and why (rules.LogsReadable).
	logs                    bool
	logsReason, logsMessage string
	// sealed says the workspace holds or has held Raw data, and how that is known.
	sealed        bool
	sealedMessage string
}

func (s *scope) wakeAt(t time.Time) { s.next = wakeup.Earliest(s.next, t) }

func (s *scope) seal(why string) {
	if !s.sealed {
		s.sealed, s.sealedMessage = true, why
	}
}

// visibility is what members may see of their workloads: nothing they wrote once the workspace
// is sealed, and logs only while it works on samples.
func (s *scope) visibility() rbac.Visibility {
	switch {
	case s.sealed:
		return rbac.Sealed
	case s.logs:
		return rbac.Logs
	}
	return rbac.Status
}

// resolve finds the workspace's domain and agreement.
func (r *Reconciler) resolve(ctx context.Context, s *scope) error {
	d, err := index.DomainFor(ctx, r.Client, s.ws.Namespace)
	if err != nil {
		return err
	}
	s.domain = d
	var a opv1.Authorization
	switch err := r.Get(ctx, client.ObjectKey{Namespace: s.ws.Namespace, Name: s.ws.Spec.Authorization}, &a); {
	case err == nil:
		s.authz = &a
	case !apierrors.IsNotFound(err):
		return err
	}
	if s.authz != nil && s.authz.Spec.Role == opv1.RoleDeveloper {
		if s.parent, err = index.Lookup[opv1.Authorization](ctx, r.Client, s.ws.Namespace, s.authz.Spec.Parent); err != nil {
			return err
		}
		var all opv1.AuthorizationList
		if err := r.List(ctx, &all, client.InNamespace(s.ws.Namespace)); err != nil {
			return err
		}
		s.operatorPersons = rules.OperatorPersons(all.Items)
	}
	var grants opv1.DataGrantList
	if err := r.List(ctx, &grants, client.InNamespace(s.ws.Namespace), client.MatchingFields{index.GrantWorkspace: s.ws.Name}); err != nil {
		return err
	}
	s.logs, s.logsReason, s.logsMessage = rules.LogsReadable(grants.Items)
	// Sealing outlives the grant that caused it; its own condition and its namespace's label
	// (ensureNamespace) remember it, so that no stale read or deleted grant unseals it.
	if raw := rules.RawApproved(grants.Items); raw != "" {
		s.seal(fmt.Sprintf("grant %s was approved with Raw data: members see only WorkloadSummaries", raw))
	} else if c := meta.FindStatusCondition(s.ws.Status.Conditions, opv1.ConditionSealed); c != nil && c.Status == metav1.ConditionTrue {
		s.seal(c.Message)
	}
	if s.domain != nil && s.ws.Status.Namespace == "" {
		s.ws.Status.Namespace = NamespaceName(s.domain.Name, s.ws.Name)
	}
	return nil
}

// teardownCause says whether the workspace must be torn down: it is being deleted, or its
// agreement has ended for good, or a teardown already began (a teardown is never undone).
func (s *scope) teardownCause() (reason, endedBy string, ok bool) {
	switch {
	case s.ws.Status.Teardown != nil:
		return s.ws.Status.Teardown.Reason, s.ws.Status.Teardown.EndedBy, true
	case !s.ws.DeletionTimestamp.IsZero():
		return "WorkspaceDeleted", "deletion of DeveloperWorkspace " + s.ws.Name, true
	case s.authz != nil && s.authz.Status.Phase.Ended():
		return string(s.authz.Status.EndReason), fmt.Sprintf("end of Authorization %s (%s)", s.authz.Name, s.authz.Status.Phase), true
	}
	return "", "", false
}

// access says whether members may have access now, and if not, why (rules.MembersMayAct, the
// same decision that opens or closes the agreement's gate).
func (s *scope) access() (open bool, reason, message string) {
	return rules.MembersMayAct(s.domain, s.authz, s.parent, s.now)
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.domain == nil {
		s.summary = conditions.Summary{Reason: opv1.ReasonDomainNotFound, Stalled: true,
			Message: "no OperationDomain has " + s.ws.Namespace + " as its control namespace"}
		s.ws.Status.Phase = opv1.WorkspaceProvisioning
		return ctrl.Result{}, nil
	}
	open, reason, message := s.access()
	if s.domain.Spec.NetworkPolicy.Cilium() && !r.Cilium {
		open, reason, message = false, opv1.ReasonApplyFailed, "the domain asks for Cilium but the cluster does not serve CiliumNetworkPolicy"
	}
	var refused []string
	s.eligible, refused = s.members()
	// Opening builds the fences before handing out keys; closing takes the keys back first.
	steps := []func(context.Context, *scope, bool) error{r.ensureNamespace, r.ensureIsolation, r.ensureLimits, r.ensureRBAC, r.ensureCredentials}
	if !open {
		steps = []func(context.Context, *scope, bool) error{r.ensureRBAC, r.ensureCredentials, r.ensureNamespace, r.ensureIsolation, r.ensureLimits, r.stopCompute}
	}
	for _, step := range steps {
		if err := step(ctx, s, open); err != nil {
			return ctrl.Result{}, err
		}
	}
	if s.authz != nil && s.authz.Status.NextTransition != nil {
		s.wakeAt(s.authz.Status.NextTransition.Time)
	}
	gateOpen := true
	if open && len(s.eligible) > 0 {
		var err error
		if gateOpen, err = r.gateOpen(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}

	if err := r.listImports(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	ws := s.ws
	conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionEmergencyStop, s.domain.Spec.EmergencyStop.Active,
		opv1.ReasonEmergencyStop, s.domain.Spec.EmergencyStop.Reason)
	// Set only once the Role and the namespace say so: a Raw grant waits for Sealed.
	if s.sealed {
		// The message is the reason as first found, carried over from this condition on later
		// passes, so it never grows.
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionSealed, true, opv1.ReasonRawData, s.sealedMessage)
		s.logs, s.logsReason, s.logsMessage = false, opv1.ReasonRawData, "the workspace is sealed ("+s.sealedMessage+"): pod logs are withheld"
	} else {
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionSealed, false, opv1.ReasonNoRawData, "no Raw data was ever granted")
	}
	conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionLogsReadable, s.logs, s.logsReason, s.logsMessage)
	switch {
	case !open:
		ws.Status.Phase = opv1.WorkspaceSuspended
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionAccessGranted, false, reason, message+"; access cut, data kept")
		s.summary = conditions.Summary{Reason: reason, Message: message + "; access cut, data kept"}
	case !gateOpen:
		ws.Status.Phase = opv1.WorkspaceProvisioning
		msg := "waiting for the agreement's gate " + s.gate() + " to open"
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionAccessGranted, false, opv1.ReasonProgressing, msg)
		s.summary = conditions.Summary{Reason: opv1.ReasonProgressing, Message: msg}
	case len(refused) > 0:
		ws.Status.Phase = opv1.WorkspaceReady
		msg := "no credential for " + strings.Join(refused, ", ")
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionAccessGranted, len(s.eligible) > 0, opv1.ReasonMemberNotEligible, msg)
		s.summary = conditions.Summary{Reason: opv1.ReasonMemberNotEligible, Message: msg}
	default:
		ws.Status.Phase = opv1.WorkspaceReady
		conditions.Set(&ws.Status.Conditions, ws.Generation, opv1.ConditionAccessGranted, true, opv1.ReasonReconciled,
			fmt.Sprintf("%d member(s) hold credentials", len(s.eligible)))
		s.summary = conditions.Summary{Ready: true, Reason: opv1.ReasonReconciled, Message: "workspace " + ws.Status.Namespace + " is ready"}
	}
	return ctrl.Result{}, nil
}

// listImports writes the workspace's import catalog: the DataImports delivered into it.
func (r *Reconciler) listImports(ctx context.Context, s *scope) error {
	var imports opv1.DataImportList
	if err := r.List(ctx, &imports, client.InNamespace(s.ws.Namespace)); err != nil {
		return err
	}
	var catalog []opv1.ImportedData
	for _, m := range imports.Items {
		if d := m.Status.Delivered; m.Spec.Workspace == s.ws.Name && d != nil && m.Status.Phase == opv1.ImportDelivered {
			catalog = append(catalog, opv1.ImportedData{Name: m.Name, Claim: d.Claim, SHA256: d.SHA256, Source: m.Spec.Source})
		}
	}
	s.ws.Status.Imports = catalog
	return nil
}

// gateOpen says whether the agreement's gate the members are bound to carries their rules: the
// gate controller writes it and may trail this workspace by a moment, and until then a member's
// credential works for nothing, so the workspace is not Ready yet.
func (r *Reconciler) gateOpen(ctx context.Context, s *scope) (bool, error) {
	var gate rbacv1.ClusterRole
	err := r.Get(ctx, client.ObjectKey{Name: s.gate()}, &gate)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil && len(gate.Rules) > 0, err
}

// gate is the ClusterRole the workspace's members are bound to: their agreement's gate at the
// workspace's visibility.
func (s *scope) gate() string {
	return rbac.GateName(s.domain.Name, s.ws.Spec.Authorization, s.visibility())
}

// members splits the spec's members into those who may have access and those refused, each
// with the reason (rules.MemberRefusal).
func (s *scope) members() (eligible []opv1.Person, refused []string) {
	for _, m := range s.ws.Spec.Members {
		if s.authz == nil {
			refused = append(refused, m+" (the agreement is not found)")
			continue
		}
		if why := rules.MemberRefusal(m, s.authz, s.operatorPersons, rulebook.Of(&s.domain.Spec).Undertakings, s.now); why != "" {
			refused = append(refused, why)
			continue
		}
		p, _ := s.authz.PersonByUser(m)
		eligible = append(eligible, p)
	}
	return eligible, refused
}

func (r *Reconciler) ensureNamespace(ctx context.Context, s *scope, _ bool) error {
	if err := apply.Cached(ctx, r.Client, tenancy.WorkspaceNamespace(s.ws.Status.Namespace, s.labels())); err != nil {
		return err
	}
	if err := r.ensureSealMark(ctx, s); err != nil {
		return err
	}
	return apply.Cached(ctx, r.Client, tenancy.DefaultServiceAccount(s.ws.Status.Namespace, s.labels()))
}

// ensureSealMark keeps the namespace's sealed label, which the domain's admission policy and
// the summaries read. It is added by a patch under its own field owner, so that no later apply
// of the namespace removes it, and it is never taken away: only the namespace's end unseals.
func (r *Reconciler) ensureSealMark(ctx context.Context, s *scope) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ws.Status.Namespace}}
	if err := r.Get(ctx, client.ObjectKeyFromObject(ns), ns); client.IgnoreNotFound(err) != nil {
		return err
	}
	if ns.Labels[opv1.LabelSealed] == "true" {
		s.seal("namespace " + ns.Name + " is marked " + opv1.LabelSealed + ": members see only WorkloadSummaries")
		return nil
	}
	if !s.sealed {
		return nil
	}
	mark := []byte(`{"metadata":{"labels":{"` + opv1.LabelSealed + `":"true"}}}`)
	return r.Patch(ctx, ns, client.RawPatch(types.MergePatchType, mark), sealOwner)
}

func (r *Reconciler) ensureIsolation(ctx context.Context, s *scope, open bool) error {
	resolver, err := dns.Resolve(ctx, r.Client, s.domain, r.DNS)
	if err != nil {
		return err
	}
	iso := policy.Isolation{Namespace: s.ws.Status.Namespace, Labels: s.labels(), Open: open, DNS: resolver.DNS}
	mode := s.domain.Spec.NetworkPolicy
	if mode.Cilium() && !r.Cilium {
		// The workspace is closed (see reconcileNormal); keep what this cluster can enforce.
		mode = opv1.NetworkPolicyKubernetes
	}
	if err := apply.Isolation(ctx, r.Client, iso, mode); err != nil {
		return err
	}
	msg := "deny all; DNS and same-namespace traffic allowed"
	if !open {
		msg = "deny all: access is cut"
	}
	conditions.Set(&s.ws.Status.Conditions, s.ws.Generation, opv1.ConditionNetworkIsolated, true, opv1.ReasonReconciled, msg)
	return nil
}

func (r *Reconciler) ensureLimits(ctx context.Context, s *scope, open bool) error {
	defaults := s.domain.Spec.WorkspaceDefaults
	quota := tenancy.EffectiveQuota(s.ws.Spec.Resources, defaults.Quota)
	if err := apply.Cached(ctx, r.Client, tenancy.ResourceQuota(s.ws.Status.Namespace, quota, !open, s.labels())); err != nil {
		return err
	}
	return apply.Cached(ctx, r.Client, tenancy.LimitRange(s.ws.Status.Namespace, defaults.ContainerDefaults, s.labels()))
}

// stopCompute deletes every pod while access is cut; the zero-pod quota keeps workload
// controllers from bringing them back, and their specs and volumes are kept for the return.
func (r *Reconciler) stopCompute(ctx context.Context, s *scope, _ bool) error {
	return client.IgnoreNotFound(r.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(s.ws.Status.Namespace)))
}

// ensureRBAC keeps one RoleBinding per eligible member, to the agreement's gate at the
// workspace's visibility, while access is open, and removes every binding otherwise. The gate
// itself (controllers/gate) is what cuts the whole agreement at once; deleting bindings here
// cuts one workspace, or one member, and keeps them cut should the gate open by mistake.
func (r *Reconciler) ensureRBAC(ctx context.Context, s *scope, open bool) error {
	ns := s.ws.Status.Namespace
	var bindings rbacv1.RoleBindingList
	if err := r.List(ctx, &bindings, client.InNamespace(ns), s.ownedBy()); err != nil {
		return err
	}
	have := make(map[string]*rbacv1.RoleBinding, len(bindings.Items))
	for i := range bindings.Items {
		have[bindings.Items[i].Name] = &bindings.Items[i]
	}
	want := map[string]bool{}
	if open {
		gate := s.gate()
		for _, p := range s.eligible {
			name := bindingName(p.User)
			want[name] = true
			if b := have[name]; b != nil && b.RoleRef.Name != gate {
				// A binding's role cannot change: sealing rebinds, cutting first.
				if err := apply.Delete(ctx, r.Client, b); err != nil {
					return err
				}
			}
			m := rbac.Member{User: p.User, ServiceAccountNamespace: s.ws.Namespace, ServiceAccountName: serviceAccountName(s.ws.Name, p.User)}
			if err := apply.Cached(ctx, r.Client, rbac.RoleBinding(ns, name, m, s.memberLabels(p.User), gate)); err != nil {
				return err
			}
		}
	}
	for name, b := range have {
		if !want[name] {
			if err := apply.Delete(ctx, r.Client, b); err != nil {
				return err
			}
		}
	}
	// The per-workspace Role members were bound to before gates goes on upgrade.
	legacy := &rbacv1.Role{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: rbac.MemberRole}, legacy); err == nil {
		return apply.Delete(ctx, r.Client, legacy)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// sealOwner is the field owner of the sealed label, apart from opdomain's applies.
const sealOwner = client.FieldOwner("opdomain-seal")

func (s *scope) labels() map[string]string {
	return map[string]string{
		opv1.LabelDomain:         s.domain.Name,
		opv1.LabelOwnerKind:      kind,
		opv1.LabelOwnerName:      s.ws.Name,
		opv1.LabelOwnerNamespace: s.ws.Namespace,
	}
}

func (s *scope) memberLabels(user string) map[string]string {
	l := s.labels()
	l[opv1.LabelMember] = names.Slug(user, 63)
	return l
}

func (s *scope) ownedBy() client.MatchingLabels {
	return client.MatchingLabels{opv1.LabelOwnerKind: kind, opv1.LabelOwnerName: s.ws.Name, opv1.LabelOwnerNamespace: s.ws.Namespace}
}

// NamespaceName is the workspace namespace: <domain>-ws-<workspace>, shortened with a hash
// when that would pass the 63 characters a namespace name may have.
func NamespaceName(domain, workspace string) string {
	return names.Namespace(domain, "ws", workspace)
}

func serviceAccountName(workspace, user string) string {
	return names.Slug(workspace+"-"+user, 63)
}

func bindingName(user string) string {
	return names.Slug(rbac.MemberRole+"-"+user, 63)
}
