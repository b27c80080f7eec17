// OperationRecords is served by the manager, not stored by the API server: no CRD for it.
// +kubebuilder:skip

package records

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// The records' API: the API server serves a domain's operation records, as an aggregated API
// (APIService v1alpha1.records.opdomain.io) that the manager's webhook server answers, to
// whoever RBAC lets get operationrecords named after the domain. So every way a person signs in
// to the cluster works, reading records is itself audited (and recorded), and no credential of
// the manager or of its volume is handed out.
const (
	APIGroup    = "records.opdomain.io"
	APIVersion  = "v1alpha1"
	APIResource = "operationrecords"
	// APIServiceName is the APIService that registers the API with the API server.
	APIServiceName = APIVersion + "." + APIGroup
	// APIPath is where the webhook server serves the API, as the API server forwards to it.
	APIPath = "/apis/" + APIGroup + "/"
	// DefaultPage and MaxPage bound how many records one answer carries.
	DefaultPage = 500
	MaxPage     = 5000
)

var groupVersion = schema.GroupVersion{Group: APIGroup, Version: APIVersion}

// OperationRecords is a page of a domain's records: GET
// /apis/records.opdomain.io/v1alpha1/operationrecords/DOMAIN, with the filters of Query as
// parameters (workspace, person, grant, since and until in RFC 3339, limit, continue).
type OperationRecords struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Records           []Record `json:"records"`
	// Continue, set when more records match, is the continue parameter of the next page.
	Continue string `json:"continue,omitempty"`
}

// API answers the requests the API server forwards: each authenticated as the API server's
// front proxy vouching for its caller, and authorized again for that caller (the front proxy's
// CA may vouch for other proxies than the API server).
type API struct {
	Store         *Store
	Authenticator authenticator.Request
	Authorizer    authorizer.Authorizer
}

func (a *API) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	gr := schema.GroupResource{Group: APIGroup, Resource: APIResource}
	if req.Method != http.MethodGet {
		writeStatus(w, apierrors.NewMethodNotSupported(gr, strings.ToLower(req.Method)))
		return
	}
	res, ok, err := a.Authenticator.AuthenticateRequest(req)
	if err != nil || !ok {
		writeStatus(w, apierrors.NewUnauthorized("the records' API answers the API server only"))
		return
	}
	path := strings.TrimSuffix(req.URL.Path, "/")
	attrs := authorizer.AttributesRecord{User: res.User, Verb: "get", Path: path}
	var domain string
	switch rest, isResource := strings.CutPrefix(path, APIPath+APIVersion+"/"+APIResource+"/"); {
	case isResource && len(validation.IsDNS1123Subdomain(rest)) == 0:
		domain = rest
		attrs.ResourceRequest, attrs.APIGroup, attrs.APIVersion, attrs.Resource, attrs.Name = true, APIGroup, APIVersion, APIResource, domain
	case path == strings.TrimSuffix(APIPath, "/"), path == APIPath+APIVersion:
	default:
		writeStatus(w, apierrors.NewNotFound(gr, path))
		return
	}
	switch decision, reason, err := a.Authorizer.Authorize(req.Context(), attrs); {
	case err != nil:
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("authorizing %s: %w", res.User.GetName(), err)))
		return
	case decision != authorizer.DecisionAllow:
		writeStatus(w, apierrors.NewForbidden(gr, domain, fmt.Errorf("user %q may not get the operation records %s", res.User.GetName(), reason)))
		return
	}
	switch {
	case domain != "":
		a.serveRecords(w, req, domain)
	case path == APIPath+APIVersion:
		writeJSON(w, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: groupVersion.String(),
			APIResources: []metav1.APIResource{{Name: APIResource, Kind: "OperationRecords", Verbs: metav1.Verbs{"get"}}},
		})
	default:
		version := metav1.GroupVersionForDiscovery{GroupVersion: groupVersion.String(), Version: APIVersion}
		writeJSON(w, &metav1.APIGroup{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:     APIGroup, Versions: []metav1.GroupVersionForDiscovery{version}, PreferredVersion: version,
		})
	}
}

// serveRecords answers a page of the domain's records.
func (a *API) serveRecords(w http.ResponseWriter, req *http.Request, domain string) {
	q, err := queryOf(req)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	found, more, err := a.Store.Find(req.Context(), domain, q)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("reading the records of %s: %w", domain, err)))
		return
	}
	page := &OperationRecords{
		TypeMeta:   metav1.TypeMeta{Kind: "OperationRecords", APIVersion: groupVersion.String()},
		ObjectMeta: metav1.ObjectMeta{Name: domain},
		Records:    found,
	}
	if page.Records == nil {
		page.Records = []Record{}
	}
	if more {
		page.Continue = strconv.FormatInt(found[len(found)-1].Sequence, 10)
	}
	if wantsTable(req) {
		writeJSON(w, table(page))
		return
	}
	writeJSON(w, page)
}

// wantsTable says whether the caller asks for a Table, as kubectl get does to print one.
func wantsTable(req *http.Request) bool {
	for accept := range strings.SplitSeq(req.Header.Get("Accept"), ",") {
		if strings.Contains(accept, "as=Table") && strings.Contains(accept, "g=meta.k8s.io") {
			return true
		}
	}
	return false
}

// table is a page as kubectl prints it: a row a record.
func table(page *OperationRecords) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: metav1.ListMeta{Continue: page.Continue}}
	for _, c := range Columns {
		t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: c, Type: "string"})
	}
	for _, r := range page.Records {
		cells := make([]any, 0, len(Columns))
		for _, c := range r.Row() {
			cells = append(cells, c)
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells})
	}
	return t
}

// queryOf reads a query's parameters, naming the one that is wrong.
func queryOf(req *http.Request) (Query, error) {
	p := req.URL.Query()
	q := Query{Workspace: p.Get("workspace"), Person: p.Get("person"), Grant: p.Get("grant"), Limit: DefaultPage}
	var err error
	for name, into := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := p.Get(name); v != "" {
			if *into, err = time.Parse(time.RFC3339, v); err != nil {
				return q, fmt.Errorf("parameter %s: want a time in RFC 3339, got %q", name, v)
			}
		}
	}
	if v := p.Get("limit"); v != "" {
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 || q.Limit > MaxPage {
			return q, fmt.Errorf("parameter limit: want 1 to %d, got %q", MaxPage, v)
		}
	}
	if v := p.Get("continue"); v != "" {
		if q.After, err = strconv.ParseInt(v, 10, 64); err != nil || q.After < 0 {
			return q, fmt.Errorf("parameter continue: want a record's number, got %q", v)
		}
	}
	return q, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers an error as the API server does, so kubectl and client-go show it.
func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	status := err.ErrStatus
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}

// RequestClientCertificates has the webhook server ask its clients for a certificate, without
// requiring one: the API server's front proxy presents one to the records' API, admission
// requests and audit batches come without.
func RequestClientCertificates(c *tls.Config) { c.ClientAuth = tls.RequestClientCert }

// extensionAuthentication is where the API server publishes how its front proxy authenticates.
const extensionAuthentication = "extension-apiserver-authentication"

// FrontProxy authenticates the requests the API server forwards to an aggregated API: a client
// certificate from the front proxy's CA, with a name the API server allows, and the caller in
// the headers it names, all as it publishes them in kube-system/extension-apiserver-authentication.
// It follows that ConfigMap until ctx ends; until it has read it, and on a cluster that
// configures no front proxy, every request is refused.
func FrontProxy(ctx context.Context, kube kubernetes.Interface) (authenticator.Request, error) {
	ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("front-proxy", metav1.NamespaceSystem, extensionAuthentication, "requestheader-client-ca-file", kube)
	if err != nil {
		return nil, err
	}
	headers := headerrequest.NewRequestHeaderAuthRequestController(extensionAuthentication, metav1.NamespaceSystem, kube,
		"requestheader-username-headers", "requestheader-uid-headers", "requestheader-group-headers",
		"requestheader-extra-headers-prefix", "requestheader-allowed-names")
	go ca.Run(ctx, 1)
	go headers.Run(ctx, 1)
	fromHeaders := func(get func() []string) headerrequest.StringSliceProvider {
		return headerrequest.StringSliceProviderFunc(get)
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous: &apiserver.AnonymousAuthConfig{Enabled: false},
		RequestHeaderConfig: &authenticatorfactory.RequestHeaderConfig{
			CAContentProvider:   ca,
			AllowedClientNames:  fromHeaders(headers.AllowedClientNames),
			UsernameHeaders:     fromHeaders(headers.UsernameHeaders),
			UIDHeaders:          fromHeaders(headers.UIDHeaders),
			GroupHeaders:        fromHeaders(headers.GroupHeaders),
			ExtraHeaderPrefixes: fromHeaders(headers.ExtraHeaderPrefixes),
		},
	}.New()
	if err != nil {
		return nil, fmt.Errorf("the records' API authenticator: %w", err)
	}
	return authn, nil
}

// SubjectAccess authorizes each caller by asking the API server (SubjectAccessReview). An answer
// is kept 10 s: the API server itself authorizes every request before it forwards it, so a
// reader whose binding is gone is refused there at once.
func SubjectAccess(kube kubernetes.Interface) (authorizer.Authorizer, error) {
	return authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: kube.AuthorizationV1(),
		AllowCacheTTL:             10 * time.Second,
		DenyCacheTTL:              10 * time.Second,
		WebhookRetryBackoff:       &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5},
	}.New()
}
