// Package webhook is opdomain's validating admission webhook: it refuses, before anything is
// stored, the objects that break a rule only other objects can tell (R1–R3). Rules one object
// can tell alone are CRD schema and CEL. The webhook fails closed: when it cannot read what it
// needs, or is not running, the request is refused.
package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
	"github.com/opdomain/opdomain/controllers/grant"
	"github.com/opdomain/opdomain/controllers/index"
	"github.com/opdomain/opdomain/controllers/product"
	"github.com/opdomain/opdomain/controllers/rulebook"
	"github.com/opdomain/opdomain/controllers/rules"
	"github.com/opdomain/opdomain/controllers/wakeup"
)

// Validators validate opdomain's kinds against the objects they refer to.
type Validators struct {
	// Reader reads past the manager's cache: an object created a moment ago (a parent agreement
	// applied in the same kubectl apply) must be seen, and a stale cache must not let a barred
	// party through.
	Reader client.Reader
	// Authorizer asks the API server whether a caller holds a right (SubjectAccessReview).
	Authorizer client.Client
	Clock      wakeup.Clock
}

// ReviewVerb is the right a reviewer holds on the kinds they review, as `approve` is for
// certificate signers: granted by the ClusterRole config/rbac/reviewer_role.yaml.
const ReviewVerb = "review"

// SetupWithManager registers one validating webhook per kind with the manager's webhook server.
func (v *Validators) SetupWithManager(mgr ctrl.Manager) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &opv1.Authorization{}).WithValidator(authorizations{v}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &opv1.OperationDomain{}).WithValidator(domains{v}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &opv1.DeveloperWorkspace{}).WithValidator(workspaces{v}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &opv1.DataGrant{}).WithValidator(grants{v}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &opv1.DataProduct{}).WithValidator(products{v}).Complete(); err != nil {
		return err
	}
	return ctrl.NewWebhookManagedBy(mgr, &opv1.DataImport{}).WithValidator(imports{v}).Complete()
}

func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: opv1.GroupVersion.Group, Kind: kind}, name, errs)
}

// broken turns the rules' violations into the API's field errors; nil means the rule held.
func broken(found ...*rules.Violation) field.ErrorList {
	var errs field.ErrorList
	for _, f := range found {
		if f != nil {
			errs = append(errs, f.FieldError())
		}
	}
	return errs
}

// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-authorization,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=authorizations,verbs=create;update,versions=v1alpha1,name=authorizations.opdomain.io,admissionReviewVersions=v1

type authorizations struct{ *Validators }

func (v authorizations) ValidateCreate(ctx context.Context, a *opv1.Authorization) (admission.Warnings, error) {
	return v.validate(ctx, nil, a)
}

func (v authorizations) ValidateUpdate(ctx context.Context, old, a *opv1.Authorization) (admission.Warnings, error) {
	// Finalizers, labels and annotations change freely; and an agreement already stored may
	// always be ended or suspended, whatever has become of its parent or party since.
	if equality.Semantic.DeepEqual(old.Spec.Term, a.Spec.Term) && equality.Semantic.DeepEqual(old.Spec.Scope, a.Spec.Scope) &&
		old.Spec.Party == a.Spec.Party {
		return nil, nil
	}
	return v.validate(ctx, old, a)
}

func (authorizations) ValidateDelete(context.Context, *opv1.Authorization) (admission.Warnings, error) {
	return nil, nil
}

func (v authorizations) validate(ctx context.Context, old, a *opv1.Authorization) (admission.Warnings, error) {
	domain, err := index.DomainByScan(ctx, v.Reader, a.Namespace)
	if err != nil {
		return nil, err
	}
	var warnings admission.Warnings
	var found []*rules.Violation
	if domain == nil {
		warnings = append(warnings, fmt.Sprintf("no OperationDomain has %s as its control namespace: the agreement stays Pending until one does", a.Namespace))
	} else if old == nil || !equality.Semantic.DeepEqual(old.Spec.Term, a.Spec.Term) {
		found = append(found, rules.TermTooLong(a.Spec, rulebook.Of(&domain.Spec)))
	}
	var peers opv1.AuthorizationList
	if err := v.Reader.List(ctx, &peers, client.InNamespace(a.Namespace)); err != nil {
		return nil, err
	}
	if old == nil || old.Spec.Party.CreditCode != a.Spec.Party.CreditCode {
		found = append(found, rules.CreditCode(a.Spec.Party.CreditCode))
	}
	// A bar keeps a party out of new agreements; one already in force ends by its own rules.
	if old == nil || old.Status.Phase == "" || old.Status.Phase == opv1.PhasePending {
		found = append(found, rules.Barred(a, domain, peers.Items))
	}
	if a.Spec.Role == opv1.RoleDeveloper {
		i := slices.IndexFunc(peers.Items, func(p opv1.Authorization) bool { return p.Name == a.Spec.Parent })
		var parent *opv1.Authorization
		if i >= 0 {
			parent = &peers.Items[i]
		}
		found = append(found, rules.Parent(a.Spec, parent))
	}
	return warnings, invalid("Authorization", a.Name, broken(found...))
}

// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-operationdomain,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=operationdomains,verbs=create,versions=v1alpha1,name=operationdomains.opdomain.io,admissionReviewVersions=v1

type domains struct{ *Validators }

func (v domains) ValidateCreate(ctx context.Context, d *opv1.OperationDomain) (admission.Warnings, error) {
	var all opv1.OperationDomainList
	if err := v.Reader.List(ctx, &all); err != nil {
		return nil, err
	}
	return nil, invalid("OperationDomain", d.Name, broken(rules.ClaimedNamespace(d, all.Items, false)))
}

// ValidateUpdate has nothing to check: the namespaces are immutable (CEL).
func (domains) ValidateUpdate(context.Context, *opv1.OperationDomain, *opv1.OperationDomain) (admission.Warnings, error) {
	return nil, nil
}

func (domains) ValidateDelete(context.Context, *opv1.OperationDomain) (admission.Warnings, error) {
	return nil, nil
}

// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-developerworkspace,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=developerworkspaces,verbs=create;update,versions=v1alpha1,name=developerworkspaces.opdomain.io,admissionReviewVersions=v1

type workspaces struct{ *Validators }

func (v workspaces) ValidateCreate(ctx context.Context, ws *opv1.DeveloperWorkspace) (admission.Warnings, error) {
	return v.validate(ctx, nil, ws)
}

func (v workspaces) ValidateUpdate(ctx context.Context, old, ws *opv1.DeveloperWorkspace) (admission.Warnings, error) {
	return v.validate(ctx, old, ws)
}

func (workspaces) ValidateDelete(context.Context, *opv1.DeveloperWorkspace) (admission.Warnings, error) {
	return nil, nil
}

// validate checks the members a create or update adds; removing a member is always allowed.
func (v workspaces) validate(ctx context.Context, old, ws *opv1.DeveloperWorkspace) (admission.Warnings, error) {
	var added []int
	for i, m := range ws.Spec.Members {
		if old == nil || !slices.Contains(old.Spec.Members, m) {
			added = append(added, i)
		}
	}
	if len(added) == 0 && old != nil {
		return nil, nil
	}
	authzPath := field.NewPath("spec", "authorization")
	a, err := index.Lookup[opv1.Authorization](ctx, v.Reader, ws.Namespace, ws.Spec.Authorization)
	switch {
	case err != nil:
		return nil, err
	case a == nil:
		return nil, invalid("DeveloperWorkspace", ws.Name, field.ErrorList{field.Forbidden(authzPath,
			fmt.Sprintf("agreement %q not found in this namespace: a workspace belongs to an agreement", ws.Spec.Authorization))})
	case old == nil && a.Status.Phase.Ended():
		return nil, invalid("DeveloperWorkspace", ws.Name, field.ErrorList{field.Forbidden(authzPath,
			fmt.Sprintf("agreement %q has ended (%s): no new workspace under it", a.Name, a.Status.Phase))})
	}
	var operatorPersons map[string]string
	if a.Spec.Role == opv1.RoleDeveloper {
		var peers opv1.AuthorizationList
		if err := v.Reader.List(ctx, &peers, client.InNamespace(ws.Namespace)); err != nil {
			return nil, err
		}
		operatorPersons = rules.OperatorPersons(peers.Items)
	}
	domain, err := index.DomainByScan(ctx, v.Reader, ws.Namespace)
	if err != nil {
		return nil, err
	}
	undertakings := opv1.Required // fail closed while no domain says otherwise
	if domain != nil {
		undertakings = rulebook.Of(&domain.Spec).Undertakings
	}
	var errs field.ErrorList
	now := v.Clock.Now()
	for _, i := range added {
		if why := rules.MemberRefusal(ws.Spec.Members[i], a, operatorPersons, undertakings, now); why != "" {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "members").Index(i), why))
		}
	}
	return nil, invalid("DeveloperWorkspace", ws.Name, errs)
}

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-datagrant,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=datagrants,verbs=create;update,versions=v1alpha1,name=datagrants.opdomain.io,admissionReviewVersions=v1

type grants struct{ *Validators }

func (v grants) ValidateCreate(ctx context.Context, g *opv1.DataGrant) (admission.Warnings, error) {
	return v.validate(ctx, nil, g)
}

// ValidateUpdate checks a grant whose spec changed. Revoking it (a Rejected review) or
// finishing its deletion is never refused by the grant's rules; a review is still admitted only
// from its reviewer.
func (v grants) ValidateUpdate(ctx context.Context, old, g *opv1.DataGrant) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, g.Spec) {
		return nil, nil
	}
	return v.validate(ctx, old, g)
}

func (grants) ValidateDelete(context.Context, *opv1.DataGrant) (admission.Warnings, error) {
	return nil, nil
}

func (v grants) validate(ctx context.Context, old, g *opv1.DataGrant) (admission.Warnings, error) {
	w, err := grant.ReadWorld(ctx, v.Reader, g)
	if err != nil {
		return nil, err
	}
	reviewers, err := v.reviewers(ctx, old, g, w)
	if err != nil {
		return nil, err
	}
	if old != nil && g.Spec.Review != nil && g.Spec.Review.Decision == opv1.ReviewRejected {
		return nil, invalid("DataGrant", g.Name, broken(reviewers...))
	}
	return nil, invalid("DataGrant", g.Name, broken(append(reviewers, rules.Grant(g, w)...)...))
}

// reviewers checks that each review the request sets or changes comes from the authenticated
// user it names, who holds the right that review needs: a Developer agreement's grant, the
// verb review on the grant (the operator entity's reviewers); an operator's own grant, the
// verb review on the domain (the authority's) and, for each provider's review, on every one of
// the grant's DataResources that provider provides.
func (v grants) reviewers(ctx context.Context, old, g *opv1.DataGrant, w rules.GrantWorld) ([]*rules.Violation, error) {
	var oldReview *opv1.Review
	var oldProviders []opv1.ProviderReview
	if old != nil {
		oldReview, oldProviders = old.Spec.Review, old.Spec.ProviderReviews
	}
	spec := field.NewPath("spec")
	var found []*rules.Violation
	if rules.ReviewGiven(oldReview, g.Spec.Review) {
		resource, namespace, name := "datagrants", g.Namespace, g.Name
		right := "verb review on datagrants (ClusterRole opdomain-reviewer), the operator entity's (JS art. 17)"
		if rules.OperatorGrant(w) {
			if w.Domain == nil {
				return nil, invalid("DataGrant", g.Name, field.ErrorList{field.Forbidden(spec.Child("review"),
					"no OperationDomain has this namespace as its control namespace: an operator's own grant is reviewed by its authority")})
			}
			resource, namespace, name = "operationdomains", "", w.Domain.Name
			right = fmt.Sprintf("verb review on operationdomains/%s, the authority's: an operator's own grant is reviewed by the authority (YN art. 20, HLJ art. 18, NJ 7)", w.Domain.Name)
		}
		user, may, err := v.mayReview(ctx, resource, namespace, name)
		if err != nil {
			return nil, err
		}
		found = append(found, rules.ReviewerIsCaller(spec.Child("review", "reviewer"), oldReview, g.Spec.Review, user, may, right))
	}
	if a := g.Spec.SecurityAssessment; a != nil {
		var prev *opv1.SecurityAssessment
		if old != nil {
			prev = old.Spec.SecurityAssessment
		}
		if !equality.Semantic.DeepEqual(prev, a) {
			user, may, err := v.mayReview(ctx, "datagrants", g.Namespace, g.Name)
			if err != nil {
				return nil, err
			}
			found = append(found, rules.AssessorIsCaller(prev, a, user, may))
		}
	}
	for i := range g.Spec.ProviderReviews {
		r := &g.Spec.ProviderReviews[i]
		var prev *opv1.Review
		if j := slices.IndexFunc(oldProviders, func(o opv1.ProviderReview) bool { return o.Provider == r.Provider }); j >= 0 {
			prev = &oldProviders[j].Review
		}
		resources := rules.ProvidedBy(r.Provider, g, w.Resources)
		if !rules.ReviewGiven(prev, &r.Review) || len(resources) == 0 {
			continue // rules.Grant refuses a provider of none of the resources
		}
		var user string
		may := true
		for _, res := range resources {
			u, ok, err := v.mayReview(ctx, "dataresources", g.Namespace, res)
			if err != nil {
				return nil, err
			}
			user, may = u, may && ok
		}
		right := fmt.Sprintf("verb review on dataresources %s, the provider's (YN art. 20, HLJ art. 18, NJ 7)", strings.Join(resources, ", "))
		found = append(found, rules.ReviewerIsCaller(spec.Child("providerReviews").Index(i).Child("reviewer"), prev, &r.Review, user, may, right))
	}
	return found, nil
}

// mayReview returns the request's authenticated user and whether they hold the reviewer right
// on the object: the verb review, asked of the API server's own authorizer.
func (v *Validators) mayReview(ctx context.Context, resource, namespace, name string) (string, bool, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return "", false, err
	}
	user := req.UserInfo
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, vs := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(vs)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: ReviewVerb, Group: opv1.GroupVersion.Group, Resource: resource, Name: name,
		},
	}}
	if err := v.Authorizer.Create(ctx, sar); err != nil {
		return "", false, fmt.Errorf("asking whether %s may review: %w", user.Username, err)
	}
	return user.Username, sar.Status.Allowed, nil
}

// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-dataproduct,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=dataproducts,verbs=create;update,versions=v1alpha1,name=dataproducts.opdomain.io,admissionReviewVersions=v1

type products struct{ *Validators }

func (products) ValidateCreate(_ context.Context, p *opv1.DataProduct) (admission.Warnings, error) {
	return nil, invalid("DataProduct", p.Name, broken(rules.ProductCreate(p)...))
}

// ValidateUpdate checks what an update adds to the reviews or the delisting; the rest of the
// spec is the schema's (CEL) to hold.
func (v products) ValidateUpdate(ctx context.Context, old, p *opv1.DataProduct) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec.Reviews, p.Spec.Reviews) && equality.Semantic.DeepEqual(old.Spec.Delist, p.Spec.Delist) {
		return nil, nil
	}
	user, mayReview, err := v.mayReview(ctx, "dataproducts", p.Namespace, p.Name)
	if err != nil {
		return nil, err
	}
	caller, err := v.reviewer(ctx, "DataProduct", p.Namespace, p.Name, p.Spec.Authorization, user, mayReview)
	if err != nil {
		return nil, err
	}
	// The stage awaited, as the phase machine sees the product as stored.
	awaited := product.Decide(product.Inputs{Product: old, Stages: old.Status.Stages}).Stage
	return nil, invalid("DataProduct", p.Name, broken(rules.ProductReviews(old, p, caller, awaited)...))
}

// reviewer is the caller of a review of a product or import of an agreement, with the persons
// of the agreement's party, who may not review it; an agreement not found refuses the review.
func (v *Validators) reviewer(ctx context.Context, kind, namespace, name, agreement, user string, mayReview bool) (rules.ProductCaller, error) {
	caller := rules.ProductCaller{User: user, MayReview: mayReview}
	var agreements opv1.AuthorizationList
	if err := v.Reader.List(ctx, &agreements, client.InNamespace(namespace)); err != nil {
		return caller, err
	}
	i := slices.IndexFunc(agreements.Items, func(a opv1.Authorization) bool { return a.Name == agreement })
	if i < 0 {
		// Without the agreement its party is unknown, and so is who may not review.
		return caller, invalid(kind, name, field.ErrorList{field.Forbidden(field.NewPath("spec", "authorization"),
			fmt.Sprintf("agreement %q not found in this namespace: a %s of no agreement is not reviewed", agreement, kind))})
	}
	caller.PartyPersons = rules.PartyPersons(agreements.Items[i].Spec.Party.CreditCode, agreements.Items)
	return caller, nil
}

// +kubebuilder:webhook:path=/validate-opdomain-io-v1alpha1-dataimport,mutating=false,failurePolicy=fail,sideEffects=None,groups=opdomain.io,resources=dataimports,verbs=create;update,versions=v1alpha1,name=dataimports.opdomain.io,admissionReviewVersions=v1

type imports struct{ *Validators }

func (imports) ValidateCreate(_ context.Context, m *opv1.DataImport) (admission.Warnings, error) {
	return nil, invalid("DataImport", m.Name, broken(rules.ImportCreate(m)...))
}

// ValidateUpdate checks what an update adds to the reviews; the rest of the spec is the
// schema's (CEL) to hold.
func (v imports) ValidateUpdate(ctx context.Context, old, m *opv1.DataImport) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec.Reviews, m.Spec.Reviews) {
		return nil, nil
	}
	user, mayReview, err := v.mayReview(ctx, "dataimports", m.Namespace, m.Name)
	if err != nil {
		return nil, err
	}
	caller, err := v.reviewer(ctx, "DataImport", m.Namespace, m.Name, m.Spec.Authorization, user, mayReview)
	if err != nil {
		return nil, err
	}
	return nil, invalid("DataImport", m.Name, broken(rules.ImportReviews(old, m, caller)...))
}

func (imports) ValidateDelete(context.Context, *opv1.DataImport) (admission.Warnings, error) {
	return nil, nil
}

func (products) ValidateDelete(context.Context, *opv1.DataProduct) (admission.Warnings, error) {
	return nil, nil
}
