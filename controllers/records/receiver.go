package records

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Path is where the manager's webhook server receives the API server's audit events.
const Path = "/audit"

// Receiver is the API server's audit webhook backend: it keeps, of each batch of events, the
// requests that belong to a domain as that domain's records.
type Receiver struct {
	Store *Store
	// Token is the bearer token the API server's audit webhook configuration presents; anything
	// else is refused, so that no pod that reaches the webhook port can write records.
	Token string
	// Reader reads namespaces and ServiceAccounts (the manager's cache).
	Reader client.Reader
	// Operator is the operator's own user: its reads are its bookkeeping, not operations on the
	// domain; its writes (what it opened, cut and destroyed) are recorded.
	Operator string
}

// The fields of audit.k8s.io/v1 events that a record keeps.
type (
	eventList struct {
		Items []event `json:"items"`
	}
	event struct {
		AuditID string `json:"auditID"`
		Stage   string `json:"stage"`
		Verb    string `json:"verb"`
		User    user   `json:"user"`
		// ImpersonatedUser is who the request acted as, when User impersonated them.
		ImpersonatedUser *user `json:"impersonatedUser"`
		ObjectRef        *struct {
			Resource    string `json:"resource"`
			Namespace   string `json:"namespace"`
			Name        string `json:"name"`
			APIGroup    string `json:"apiGroup"`
			Subresource string `json:"subresource"`
		} `json:"objectRef"`
		ResponseStatus *struct {
			Code int32 `json:"code"`
		} `json:"responseStatus"`
		StageTimestamp json.RawMessage   `json:"stageTimestamp"`
		Annotations    map[string]string `json:"annotations"`
	}
	user struct {
		Username string `json:"username"`
	}
)

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !rc.authorized(req) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var list eventList
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<20)).Decode(&list); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	byDomain := map[string][]Record{}
	var order []string
	for _, ev := range list.Items {
		domain, rec, err := rc.record(req.Context(), ev)
		if err != nil {
			// The API server retries a failed batch: better twice than lost.
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if domain == "" {
			continue
		}
		if _, seen := byDomain[domain]; !seen {
			order = append(order, domain)
		}
		byDomain[domain] = append(byDomain[domain], rec)
	}
	for _, d := range order {
		if err := rc.Store.Append(req.Context(), d, byDomain[d]); err != nil {
			logf.FromContext(req.Context()).Error(err, "appending operation records", "domain", d)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// authorized says whether req presents the token: only the API server (and the manager, for
// records of its own making) write records.
func (rc *Receiver) authorized(req *http.Request) bool {
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	return ok && rc.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(rc.Token)) == 1
}

// record turns a completed request into a record of the domain it belongs to: the domain of
// the namespace it acted on, or of the member credential that made it, or the OperationDomain
// (or its operation records) it named. Requests of no domain return "".
func (rc *Receiver) record(ctx context.Context, ev event) (string, Record, error) {
	if ev.Stage != "ResponseComplete" && ev.Stage != "Panic" {
		return "", Record{}, nil
	}
	if ev.User.Username == rc.Operator && (ev.Verb == "get" || ev.Verb == "list" || ev.Verb == "watch") {
		return "", Record{}, nil
	}
	r := Record{AuditID: ev.AuditID, User: ev.User.Username, Verb: ev.Verb, Decision: ev.Annotations["authorization.k8s.io/decision"]}
	if as := ev.ImpersonatedUser; as != nil {
		r.User, r.Impersonator = as.Username, ev.User.Username
	}
	_ = json.Unmarshal(ev.StageTimestamp, &r.Time)
	if s := ev.ResponseStatus; s != nil {
		r.Code = s.Code
	}
	if o := ev.ObjectRef; o != nil {
		r.APIGroup, r.Resource, r.Subresource, r.Namespace, r.Name = o.APIGroup, o.Resource, o.Subresource, o.Namespace, o.Name
	}
	domain, err := rc.domainOf(ctx, r.Namespace)
	if err != nil {
		return "", r, err
	}
	// A member's credential is a ServiceAccount of the workspace, annotated with the person.
	if ns, name, ok := serviceAccount(r.User); ok {
		owner, err := rc.domainOf(ctx, ns)
		if err != nil {
			return "", r, err
		}
		if owner != "" {
			var sa corev1.ServiceAccount
			switch err := rc.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &sa); {
			case err == nil:
				r.Person, r.Workspace = sa.Annotations[opv1.AnnotationMemberUser], sa.Labels[opv1.LabelOwnerName]
			case !apierrors.IsNotFound(err):
				return "", r, err
			}
			if domain == "" {
				domain = owner
			}
		}
	}
	// A domain's own object, and its records read through the records' API: of a domain that
	// exists, or that the request itself successfully acted on (its creation, or its deletion
	// finished before the batch arrived), so that requests naming anything at all open no records.
	domainObject := r.APIGroup == opv1.GroupVersion.Group && r.Resource == "operationdomains"
	if domain == "" && r.Name != "" && (domainObject || r.APIGroup == APIGroup && r.Resource == APIResource) {
		switch err := rc.Reader.Get(ctx, client.ObjectKey{Name: r.Name}, &opv1.OperationDomain{}); {
		case err == nil, domainObject && r.Code >= 200 && r.Code < 300:
			domain = r.Name
		case !apierrors.IsNotFound(err):
			return "", r, err
		}
	}
	return domain, r, nil
}

// domainOf is the domain whose label a namespace carries; "" for none.
func (rc *Receiver) domainOf(ctx context.Context, namespace string) (string, error) {
	if namespace == "" {
		return "", nil
	}
	var ns corev1.Namespace
	switch err := rc.Reader.Get(ctx, client.ObjectKey{Name: namespace}, &ns); {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	}
	return ns.Labels[opv1.LabelDomain], nil
}

// serviceAccount splits a ServiceAccount's user name into its namespace and name.
func serviceAccount(username string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok
}
