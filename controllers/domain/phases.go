package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/admission"
	"github.com/opdomain/opdomain/controllers/apply"
	"github.com/opdomain/opdomain/controllers/conditions"
	"github.com/opdomain/opdomain/controllers/disclosure"
	"github.com/opdomain/opdomain/controllers/dns"
	"github.com/opdomain/opdomain/controllers/evidence"
	"github.com/opdomain/opdomain/controllers/gate"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/metrics"
	"github.com/opdomain/opdomain/controllers/names"
	"github.com/opdomain/opdomain/controllers/policy"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/tenancy"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

type scope struct {
	domain  *opv1.OperationDomain
	orig    *opv1.OperationDomain
	summary conditions.Summary
	dns     dns.Resolution
	policy  rulebook.Policy
	// requeueAfter is set by a step that stops to wait for something outside the operator.
	requeueAfter time.Duration
	// wakeAt is the earliest instant a step has to act again by the clock alone.
	wakeAt time.Time
}

// namespaces are the domain's own: its control namespace, its data zone, the airlock and outbox
// of its products (R5) and the inbox of its imports (R4), where no member has any right.
func (s *scope) namespaces() []string {
	return rules.DomainNamespaces(s.domain)
}

func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	steps := []func(context.Context, *scope) (bool, error){
		// An emergency stop cuts before anything else is looked at.
		r.observeEmergencyStop,
		r.observeIncidents,
		r.observePolicy,
		r.checkConflicts,
		r.checkPolicyAPI,
		r.ensureAdmissionPolicy,
		r.ensureNamespaces,
		r.observeDNS,
		r.ensureIsolation,
		r.publishIntrospection,
		r.proveAdmission,
		r.observeBlacklist,
		r.maintainEvidence,
		r.discloseYearly,
	}
	for _, step := range steps {
		if proceed, err := step(ctx, s); err != nil || !proceed {
			return ctrl.Result{RequeueAfter: s.requeueAfter}, err
		}
	}
	r.Wakeups.At(s.domain, s.wakeAt)
	s.summary = conditions.Summary{Ready: true, Reason: opv1.ReasonReconciled, Message: "namespaces isolated"}
	return ctrl.Result{}, nil
}

// checkConflicts refuses to touch a namespace another domain already claims: one domain per
// scope (R1).
func (r *Reconciler) checkConflicts(ctx context.Context, s *scope) (bool, error) {
	var all opv1.OperationDomainList
	if err := r.List(ctx, &all); err != nil {
		return false, err
	}
	// The admission webhook refuses a second claim; two domains created at once both pass it,
	// and then the older claim wins.
	if v := rules.ClaimedNamespace(s.domain, all.Items, true); v != nil {
		s.summary = conditions.Summary{Stalled: true, Reason: v.Reason, Message: v.String()}
		return false, nil
	}
	return true, nil
}

func (r *Reconciler) checkPolicyAPI(_ context.Context, s *scope) (bool, error) {
	if s.domain.Spec.NetworkPolicy.Cilium() && !r.Cilium {
		s.summary = conditions.Summary{Stalled: true, Reason: opv1.ReasonApplyFailed,
			Message: "spec.networkPolicy asks for Cilium but the cluster does not serve CiliumNetworkPolicy"}
		return false, nil
	}
	return true, nil
}

// ensureNamespaces creates the domain's namespaces, or adopts those that exist, and labels them.
func (r *Reconciler) ensureNamespaces(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	inventory := make([]opv1.OwnedNamespace, 0, 2)
	for _, name := range s.namespaces() {
		var existing corev1.Namespace
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, &existing)
		created := apierrors.IsNotFound(err) || existing.Annotations[opv1.AnnotationCreatedBy] == d.Name
		switch {
		case apierrors.IsNotFound(err):
			ns := tenancy.Namespace(name, r.labels(d, name))
			ns.Annotations = map[string]string{opv1.AnnotationCreatedBy: d.Name}
			if err := r.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				return false, err
			}
			r.Recorder.Eventf(d, nil, corev1.EventTypeNormal, "NamespaceCreated", "Create", "created namespace %s", name)
		case err != nil:
			return false, err
		case !existing.DeletionTimestamp.IsZero():
			return false, fmt.Errorf("namespace %s is being deleted; waiting for it to go before recreating it", name)
		case existing.Labels[opv1.LabelDomain] != "" && existing.Labels[opv1.LabelDomain] != d.Name:
			s.summary = conditions.Summary{Stalled: true, Reason: opv1.ReasonNamespaceConflict,
				Message: fmt.Sprintf("namespace %q is labelled for domain %s", name, existing.Labels[opv1.LabelDomain])}
			return false, nil
		}
		if err := apply.Cached(ctx, r.Client, tenancy.Namespace(name, r.labels(d, name))); err != nil {
			return false, err
		}
		if err := apply.Cached(ctx, r.Client, tenancy.DefaultServiceAccount(name, r.labels(d, name))); err != nil {
			return false, err
		}
		inventory = append(inventory, opv1.OwnedNamespace{Name: name, Adopted: !created})
	}
	d.Status.Namespaces = inventory
	return true, nil
}

// observeDNS finds the resolver the domain's pods use and says whether their DNS is contained;
// the grants read it from status.
func (r *Reconciler) observeDNS(ctx context.Context, s *scope) (bool, error) {
	res, err := dns.Resolve(ctx, r.Client, s.domain, r.DNS)
	if err != nil {
		return false, err
	}
	s.dns = res
	d := s.domain
	d.Status.DNS = opv1.DNSStatus{Contained: res.Contained, ResolverIP: res.IP}
	conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionDNSContained, res.Contained, res.Reason, res.Message)
	return true, nil
}

func (r *Reconciler) ensureIsolation(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	for _, ns := range s.namespaces() {
		// The airlock, the outbox and the inbox hold bytes at rest, moved by the operator's
		// pods, which need no network: nothing goes in or out there, not even DNS.
		open := ns == d.Spec.ControlNamespace || ns == d.Spec.DataZoneNamespace
		iso := policy.Isolation{Namespace: ns, Labels: r.labels(d, ns), Open: open, AtRest: !open, DNS: s.dns.DNS}
		if ns == d.Spec.DataZoneNamespace {
			// Data services ask the operator whether a token is still good.
			iso.Introspection = r.Introspection
		}
		if err := apply.Isolation(ctx, r.Client, iso, s.domain.Spec.NetworkPolicy); err != nil {
			return false, err
		}
	}
	conditions.Set(&s.domain.Status.Conditions, s.domain.Generation, opv1.ConditionNetworkIsolated, true, opv1.ReasonReconciled,
		"default-deny with DNS in "+d.Spec.ControlNamespace+", "+d.Spec.DataZoneNamespace+"; deny all in "+names.Airlock(d.Name)+", "+names.Outbox(d.Name)+
			", "+names.Inbox(d.Name)+"; as "+string(d.Spec.NetworkPolicy))
	return true, nil
}

// publishIntrospection tells the data zone's services, in one ConfigMap, where to introspect
// grant tokens and which CA to trust for it. The CA bundle is read, through the cache (a domain
// reconciles often; webhook configurations are few), from the webhook configuration, where the
// webhook certificate's issuer, whichever it is, puts it.
func (r *Reconciler) publishIntrospection(ctx context.Context, s *scope) (bool, error) {
	e := r.IntrospectionEndpoint
	if e.URL == "" {
		return true, nil
	}
	data := map[string]string{grant.IntrospectionURLKey: e.URL}
	if e.CABundleFrom != "" {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := r.Get(ctx, client.ObjectKey{Name: e.CABundleFrom}, &vwc); client.IgnoreNotFound(err) != nil {
			return false, err
		}
		if len(vwc.Webhooks) > 0 && len(vwc.Webhooks[0].ClientConfig.CABundle) > 0 {
			data[grant.IntrospectionCAKey] = string(vwc.Webhooks[0].ClientConfig.CABundle)
		}
	}
	ns := s.domain.Spec.DataZoneNamespace
	return true, apply.Cached(ctx, r.Client, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: grant.IntrospectionConfigMap, Namespace: ns, Labels: r.labels(s.domain, ns)},
		Data:       data,
	})
}

// ensureAdmissionPolicy keeps the cluster-wide admission policies installed (isolation, DNS,
// workspace finalizer, and the network fence when the manager runs one), and the domain's own
// binding of each, with the domain as the parameter where a policy reads one. Every domain
// applies the same policies, which server-side apply makes harmless. It runs before the
// namespaces are made, so none of them is ever without it.
func (r *Reconciler) ensureAdmissionPolicy(ctx context.Context, s *scope) (bool, error) {
	shared := map[string]string{opv1.LabelComponent: "admission"}
	owned := map[string]string{
		opv1.LabelComponent: "admission", opv1.LabelDomain: s.domain.Name, opv1.LabelOwnerKind: kind, opv1.LabelOwnerName: s.domain.Name,
	}
	policies := []client.Object{admission.Policy(shared, r.Operator, r.Fence), admission.DNSPolicy(shared), admission.FinalizerPolicy(shared)}
	bindings := []client.Object{
		admission.Binding(s.domain.Name, owned), admission.DNSBinding(s.domain.Name, owned), admission.FinalizerBinding(s.domain.Name, owned),
	}
	// Releases before the per-domain bindings bound the policy once for all domains.
	stale := []client.Object{&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: admission.PolicyName}}}
	fenceBinding := admission.FenceBinding(s.domain.Name, owned)
	if r.Fence.Enabled() {
		policies = append(policies, admission.FencePolicy(shared, r.Fence))
		bindings = append(bindings, fenceBinding)
	} else {
		stale = append(stale, fenceBinding)
	}
	for _, clusterWide := range policies {
		if err := apply.Cached(ctx, r.Client, clusterWide); err != nil {
			return false, err
		}
	}
	for _, binding := range bindings {
		if err := controllerutil.SetControllerReference(s.domain, binding, r.Scheme()); err != nil {
			return false, err
		}
		if err := apply.Cached(ctx, r.Client, binding); err != nil {
			return false, err
		}
	}
	// The cache (bindings are watched) says whether a stale binding is left, so no reconcile
	// pays a delete.
	for _, o := range stale {
		switch err := r.Get(ctx, client.ObjectKeyFromObject(o), o); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return false, err
		}
		if err := apply.Delete(ctx, r.Client, o); err != nil {
			return false, err
		}
	}
	return true, nil
}

// probeName names the Service a domain offers its own admission policy, in a dry run.
const probeName = "opdomain-admission-probe"

// proveAdmission checks that the API server enforces the domain's admission policy before the
// domain says it is Ready: a binding takes effect when the API server has loaded it, not when it
// is stored. A dry-run NodePort Service in the data zone must be refused by this domain's
// binding; nothing is stored either way.
func (r *Reconciler) proveAdmission(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	probe := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: probeName, Namespace: d.Spec.DataZoneNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	err := r.Create(ctx, probe, client.DryRunAll)
	switch {
	case err != nil && strings.Contains(err.Error(), admission.BindingName(d.Name)):
		conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionAdmissionEnforced, true, opv1.ReasonReconciled,
			"the API server refuses what the domain's admission policy forbids")
		return true, nil
	case err != nil && !apierrors.IsInvalid(err):
		// Refused for another reason, or not answered: the probe proves nothing either way.
		return false, fmt.Errorf("probing the admission policy: %w", err)
	}
	msg := "waiting for the API server to enforce admission policy binding " + admission.BindingName(d.Name)
	if err == nil {
		msg += ": a NodePort Service was admitted in a dry run"
	} else {
		msg += ": " + err.Error()
	}
	conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionAdmissionEnforced, false, opv1.ReasonProgressing, msg)
	s.summary = conditions.Summary{Reason: opv1.ReasonProgressing, Message: msg, Progressing: true}
	s.requeueAfter = admissionRecheck
	return false, nil
}

// admissionRecheck is how soon a domain looks again for its admission policy to be in force.
const admissionRecheck = 250 * time.Millisecond

// observeEmergencyStop records when the stop took effect and cuts: the domain's gates close
// first, then every member binding and credential goes (cutAccess); the workspaces do the rest.
func (r *Reconciler) observeEmergencyStop(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	stop := d.Spec.EmergencyStop
	switch {
	case stop.Active && d.Status.EmergencyStopSince == nil:
		now := metav1.NewTime(r.Clock.Now())
		d.Status.EmergencyStopSince = &now
		r.Recorder.Eventf(d, nil, corev1.EventTypeWarning, "EmergencyStop", "Stop", "emergency stop: %s", stop.Reason)
	case !stop.Active && d.Status.EmergencyStopSince != nil:
		d.Status.EmergencyStopSince = nil
		r.Recorder.Eventf(d, nil, corev1.EventTypeNormal, "EmergencyStopLifted", "Resume", "emergency stop lifted")
	}
	conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionEmergencyStop, stop.Active, opv1.ReasonEmergencyStop, stop.Reason)
	if !stop.Active {
		return true, nil
	}
	if err := gate.CloseAll(ctx, r.Client, d.Name); err != nil {
		return false, err
	}
	metrics.Boundaries.Cut(stopKey(d.Name))
	return true, r.cutAccess(ctx, d)
}

// observeIncidents raises IncidentUnreported while an incident has not been reported to the
// authority, with a Warning Event when one newly is: an incident is reported at once (R7).
func (r *Reconciler) observeIncidents(_ context.Context, s *scope) (bool, error) {
	d := s.domain
	var unreported []string
	for _, in := range d.Spec.Incidents {
		if in.ReportedAt == nil {
			unreported = append(unreported, fmt.Sprintf("%s (%s, detected %s)", in.ID, in.Type, in.DetectedAt.UTC().Format(time.RFC3339)))
		}
	}
	if len(unreported) == 0 {
		conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionIncidentUnreported, false, opv1.ReasonIncidentsReported, "")
		return true, nil
	}
	msg := "not yet reported to the authority: " + strings.Join(unreported, ", ")
	if prev := meta.FindStatusCondition(s.orig.Status.Conditions, opv1.ConditionIncidentUnreported); prev == nil || prev.Message != msg {
		r.Recorder.Eventf(d, nil, corev1.EventTypeWarning, opv1.ReasonIncidentUnreported, "Report", msg)
	}
	conditions.Set(&d.Status.Conditions, d.Generation, opv1.ConditionIncidentUnreported, true, opv1.ReasonIncidentUnreported, msg)
	return true, nil
}

// cutWorkers bounds the deletes an emergency stop sends at once.
const cutWorkers = 16

// cutAccess is the emergency stop's one action (R7): it deletes every member RoleBinding and
// every credential Secret of the domain's workspaces at once, so authorization is gone in one
// pass over the domain instead of one workspace after another. The workspaces then withdraw
// their network paths and stop their pods; their data stays.
func (r *Reconciler) cutAccess(ctx context.Context, d *opv1.OperationDomain) error {
	inDomain := client.MatchingLabels{opv1.LabelDomain: d.Name, opv1.LabelOwnerKind: opv1.OwnerKindWorkspace}
	var bindings rbacv1.RoleBindingList
	if err := r.List(ctx, &bindings, inDomain); err != nil {
		return err
	}
	var secrets corev1.SecretList
	if err := r.List(ctx, &secrets, inDomain, client.InNamespace(d.Spec.ControlNamespace)); err != nil {
		return err
	}
	targets := make([]client.Object, 0, len(bindings.Items)+len(secrets.Items))
	for i := range bindings.Items {
		targets = append(targets, &bindings.Items[i])
	}
	for i := range secrets.Items {
		targets = append(targets, &secrets.Items[i])
	}
	errs := make([]error, len(targets))
	sem := make(chan struct{}, cutWorkers)
	var wg sync.WaitGroup
	for i, obj := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = apply.Delete(ctx, r.Client, obj)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Reconciler) labels(d *opv1.OperationDomain, namespace string) map[string]string {
	component := "data-zone"
	if namespace == d.Spec.ControlNamespace {
		component = "control"
	}
	return map[string]string{
		opv1.LabelDomain:    d.Name,
		opv1.LabelOwnerKind: kind,
		opv1.LabelOwnerName: d.Name,
		opv1.LabelComponent: component,
	}
}

// maintainEvidence records the head of the domain's evidence chain and removes records whose
// retention has run out, oldest first. The pruning point is saved before a record is deleted,
// so the chain verifies at every moment and a restart never loses track (R6).
func (r *Reconciler) maintainEvidence(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	records, err := evidence.Chain(ctx, r.Client, d)
	if err != nil {
		return false, err
	}
	ev := &d.Status.Evidence
	ev.NextExpiry = nil
	now := r.Clock.Now()
	for i := range records {
		rec := &records[i]
		if rec.Spec.Sequence <= ev.Pruned.Sequence {
			if err := apply.Delete(ctx, r.Client, rec); err != nil {
				return false, err
			}
			continue
		}
		if rec.Spec.Sequence > ev.Head.Sequence {
			ev.Head = opv1.ChainLink{Sequence: rec.Spec.Sequence, Digest: rec.Spec.Digest}
		}
		expires := rec.Spec.CompletedAt.AddDate(0, 0, int(s.policy.RecordRetentionDays))
		if now.Before(expires) {
			if ev.NextExpiry == nil {
				ev.NextExpiry = &metav1.Time{Time: expires}
			}
			continue
		}
		if ev.NextExpiry != nil {
			continue // only ever prune from the oldest end, so the chain stays whole
		}
		ev.Pruned = opv1.ChainLink{Sequence: rec.Spec.Sequence, Digest: rec.Spec.Digest}
		if err := r.saveStatus(ctx, s); err != nil {
			return false, err
		}
		if err := apply.Delete(ctx, r.Client, rec); err != nil {
			return false, err
		}
		r.Recorder.Eventf(d, nil, corev1.EventTypeNormal, "EvidenceExpired", "Prune",
			"removed TeardownRecord %s after %d days of retention (%s)", rec.Name, s.policy.RecordRetentionDays, s.policy.Source("recordRetentionDays"))
	}
	if ev.NextExpiry != nil {
		s.wake(ev.NextExpiry.Time)
	}
	return true, nil
}

// wake asks for a reconcile at t, or earlier if another step asked for that.
func (s *scope) wake(t time.Time) { s.wakeAt = wakeup.Earliest(s.wakeAt, t) }

// discloseYearly keeps, when a calendar year ends, the domain's public disclosure as it stands
// in its evidence chain (R7), so that what was disclosed can be proven when the page has long
// changed. A new domain owes none for the year before it, which it did not live through.
func (r *Reconciler) discloseYearly(ctx context.Context, s *scope) (bool, error) {
	d, ev := s.domain, &s.domain.Status.Evidence
	thisYear, next := disclosure.Year(r.Clock.Now())
	s.wake(next)
	year := thisYear - 1 // the year that ended last
	if ev.DisclosedThrough == 0 {
		ev.DisclosedThrough = year
	}
	if ev.DisclosedThrough >= year {
		return true, nil
	}
	page, err := disclosure.Of(ctx, r.Client, d)
	if err != nil {
		return false, err
	}
	snapshot := disclosure.Snapshot(page, year)
	now := metav1.NewTime(r.Clock.Now())
	name, err := evidence.Append(ctx, r.Client, r.APIReader, d, opv1.TeardownRecordSpec{
		Subject:   opv1.ObjectRecord{Kind: "Disclosure", Name: fmt.Sprintf("%s-%d", d.Name, year), UID: fmt.Sprintf("%s-%d", d.UID, year)},
		Event:     "Disclosed",
		Reason:    fmt.Sprintf("the domain's public disclosure at the end of %d", year),
		StartedAt: now, CompletedAt: now,
		Disclosure: &snapshot,
	}, map[string]string{opv1.LabelOwnerKind: kind, opv1.LabelOwnerName: d.Name})
	if err != nil {
		return false, fmt.Errorf("keeping the disclosure of %d: %w", year, err)
	}
	if snapshot.Document == "" {
		r.Recorder.Eventf(d, nil, corev1.EventTypeWarning, "DisclosureTooLarge", "Disclose",
			"the disclosure of %d is larger than a record holds: %s keeps only its digest %s", year, name, snapshot.SHA256)
	}
	ev.DisclosedThrough = year
	return true, nil
}

// observePolicy shows the policy in force: the rulebook's values tightened by the domain's own.
func (r *Reconciler) observePolicy(_ context.Context, s *scope) (bool, error) {
	s.policy = rulebook.Of(&s.domain.Spec)
	s.domain.Status.Policy = opv1.EffectivePolicy{Rulebook: s.policy.Rulebook, Values: s.policy.Values}
	return true, nil
}

// barReasons are the endings that call for a bar on the party's new agreements (YN art. 21).
var barReasons = map[opv1.EndReason]bool{opv1.EndBreach: true, opv1.EndSecurityIncident: true, opv1.EndLawViolation: true}

// observeBlacklist lists every barred party: those written in spec.blacklist and, where the
// domain bars automatically, those whose agreement ended for a breach, a security incident or a
// violation of law; where it proposes bars, those parties are proposed for the authority to
// confirm, and barred once it lists them.
func (r *Reconciler) observeBlacklist(ctx context.Context, s *scope) (bool, error) {
	d := s.domain
	var agreements opv1.AuthorizationList
	if err := r.List(ctx, &agreements, client.InNamespace(d.Spec.ControlNamespace)); err != nil {
		return false, err
	}
	barred, proposed := map[string]opv1.BlacklistEntry{}, map[string]opv1.BlacklistEntry{}
	endings := barred
	if s.policy.Bars != opv1.BarAutomatic {
		endings = proposed
	}
	for _, a := range agreements.Items {
		if a.Status.Phase.Ended() && barReasons[a.Status.EndReason] {
			endings[a.Spec.Party.CreditCode] = opv1.BlacklistEntry{
				CreditCode: a.Spec.Party.CreditCode, Name: a.Spec.Party.Name, Since: a.Status.EndedAt,
				Reason: fmt.Sprintf("Authorization %s ended with %s", a.Name, a.Status.EndReason),
			}
		}
	}
	for _, e := range d.Spec.Blacklist {
		barred[e.CreditCode] = e
		delete(proposed, e.CreditCode)
	}
	d.Status.Blacklist, d.Status.ProposedBars = sortedEntries(barred), sortedEntries(proposed)
	return true, nil
}

func sortedEntries(entries map[string]opv1.BlacklistEntry) []opv1.BlacklistEntry {
	list := make([]opv1.BlacklistEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b opv1.BlacklistEntry) int { return strings.Compare(a.CreditCode, b.CreditCode) })
	return list
}
