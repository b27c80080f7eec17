// Package disclosure is the public page a domain discloses (R7: YN art. 32, HLJ art. 20(4)(5),
// JS art. 21): who is authorized, for what scope, until when; the catalog; the data products
// published and delisted; and the heads of the evidence and records chains, so that anyone can
// later prove a record was not rewritten. It shows nothing secret: no fields, no persons, no
// credentials, no digests of anything but published products.
package disclosure

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Page is every domain's disclosure.
type Page struct {
	Generated time.Time `json:"generated"`
	Domains   []Domain  `json:"domains"`
}

// Domain is one domain's disclosure.
type Domain struct {
	Name       string      `json:"name"`
	Authority  string      `json:"authority"`
	Rulebook   string      `json:"rulebook"`
	Agreements []Agreement `json:"agreements"`
	Catalog    []Resource  `json:"catalog"`
	Products   []Product   `json:"products"`
	// Evidence and Records are the heads of the TeardownRecord chain and of the operation
	// records' anchor.
	Evidence Link `json:"evidence"`
	Records  Link `json:"records"`
}

// Agreement is who is authorized, for what, until when.
type Agreement struct {
	Name       string     `json:"name"`
	Party      string     `json:"party"`
	CreditCode string     `json:"creditCode"`
	Role       string     `json:"role"`
	Parent     string     `json:"parent,omitempty"`
	Resources  []string   `json:"resources"`
	Scenarios  []string   `json:"scenarios"`
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	Phase      string     `json:"phase"`
	EndReason  string     `json:"endReason,omitempty"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
}

// Resource is a catalog entry, without its fields.
type Resource struct {
	Name     string `json:"name"`
	Level    int32  `json:"level"`
	Provider string `json:"provider"`
}

// Product is a data product that was published, and delisted if it was.
type Product struct {
	Name         string      `json:"name"`
	Type         string      `json:"type"`
	PublishedAt  time.Time   `json:"publishedAt"`
	SHA256       string      `json:"sha256"`
	Recipients   []Recipient `json:"recipients"`
	DelistedAt   *time.Time  `json:"delistedAt,omitempty"`
	DelistReason string      `json:"delistReason,omitempty"`
}

// Recipient is who a product is for, and whether foreign or foreign-funded.
type Recipient struct {
	Name    string `json:"name"`
	Foreign bool   `json:"foreign"`
}

// Link is a chain's head.
type Link struct {
	Sequence int64  `json:"sequence"`
	Digest   string `json:"digest"`
}

// Disclose is the domain's disclosure, from its objects.
func Disclose(d *opv1.OperationDomain, agreements []opv1.Authorization, catalog []opv1.DataResource, products []opv1.DataProduct) Domain {
	out := Domain{
		Name: d.Name, Authority: d.Spec.Authority.Name, Rulebook: string(d.Spec.Rulebook),
		Agreements: []Agreement{}, Catalog: []Resource{}, Products: []Product{},
		Evidence: Link{d.Status.Evidence.Head.Sequence, d.Status.Evidence.Head.Digest},
		Records:  Link{d.Status.Records.Head.Sequence, d.Status.Records.Head.Digest},
	}
	for _, a := range agreements {
		ag := Agreement{
			Name: a.Name, Party: a.Spec.Party.Name, CreditCode: a.Spec.Party.CreditCode, Role: string(a.Spec.Role), Parent: a.Spec.Parent,
			Resources: nonNil(a.Spec.Scope.Resources), Scenarios: nonNil(a.Spec.Scope.Scenarios),
			Start: a.Spec.Term.Start.UTC(), End: a.Spec.Term.End.UTC(), Phase: string(a.Status.Phase), EndReason: string(a.Status.EndReason),
		}
		if a.Status.EndedAt != nil {
			at := a.Status.EndedAt.UTC()
			ag.EndedAt = &at
		}
		out.Agreements = append(out.Agreements, ag)
	}
	for _, r := range catalog {
		out.Catalog = append(out.Catalog, Resource{Name: r.Name, Level: r.Spec.Level, Provider: r.Spec.Provider})
	}
	for _, p := range products {
		pub := p.Status.Published
		if pub == nil {
			continue // never published: nothing left the domain
		}
		pr := Product{Name: p.Name, Type: string(p.Spec.Type), PublishedAt: pub.At.UTC(), SHA256: pub.SHA256, Recipients: []Recipient{}}
		for _, r := range p.Spec.Recipients {
			pr.Recipients = append(pr.Recipients, Recipient{Name: r.Name, Foreign: r.Foreign})
		}
		if e := p.Status.Ended; e != nil && p.Status.Phase == opv1.ProductDelisted {
			at := e.At.UTC()
			pr.DelistedAt, pr.DelistReason = &at, e.Reason
		}
		out.Products = append(out.Products, pr)
	}
	slices.SortFunc(out.Agreements, func(a, b Agreement) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Catalog, func(a, b Resource) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Products, func(a, b Product) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Build reads every domain's disclosure.
func Build(ctx context.Context, c client.Reader, now time.Time) (Page, error) {
	page := Page{Generated: now.UTC(), Domains: []Domain{}}
	var domains opv1.OperationDomainList
	if err := c.List(ctx, &domains); err != nil {
		return page, err
	}
	for i := range domains.Items {
		d, err := Of(ctx, c, &domains.Items[i])
		if err != nil {
			return page, err
		}
		page.Domains = append(page.Domains, d)
	}
	slices.SortFunc(page.Domains, func(a, b Domain) int { return strings.Compare(a.Name, b.Name) })
	return page, nil
}

// Of reads one domain's disclosure.
func Of(ctx context.Context, c client.Reader, d *opv1.OperationDomain) (Domain, error) {
	in := client.InNamespace(d.Spec.ControlNamespace)
	var agreements opv1.AuthorizationList
	var catalog opv1.DataResourceList
	var products opv1.DataProductList
	for _, list := range []client.ObjectList{&agreements, &catalog, &products} {
		if err := c.List(ctx, list, in); err != nil {
			return Domain{}, err
		}
	}
	return Disclose(d, agreements.Items, catalog.Items, products.Items), nil
}

// chinaStandardTime is the regulations' calendar: a disclosure year starts at midnight in
// Beijing.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// Year is the disclosure year t falls in, and when the next one starts.
func Year(t time.Time) (year int32, next time.Time) {
	t = t.In(chinaStandardTime)
	year = int32(t.Year()) //nolint:gosec // a calendar year fits in 32 bits
	return year, time.Date(t.Year()+1, time.January, 1, 0, 0, 0, 0, chinaStandardTime)
}

// maxDocument is the most a record keeps of a snapshot: beyond it, only the digest.
const maxDocument = 1 << 20

// Snapshot is the evidence of d's disclosure for a year: the document as /disclosure.json
// serves it, and its digest.
func Snapshot(d Domain, year int32) opv1.DisclosureEvidence {
	doc, _ := json.Marshal(d) // strings, numbers and times: cannot fail
	sum := sha256.Sum256(doc)
	ev := opv1.DisclosureEvidence{Year: year, SHA256: hex.EncodeToString(sum[:])}
	if len(doc) <= maxDocument {
		ev.Document = string(doc)
	}
	return ev
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"date": date}).Parse(pageHTML))

// date shows a day of a time or of a time that may be missing.
func date(t any) string {
	switch t := t.(type) {
	case time.Time:
		return t.Format(time.DateOnly)
	case *time.Time:
		if t != nil {
			return t.Format(time.DateOnly)
		}
	}
	return ""
}

// Server serves the disclosure, read-only and without credentials: HTML at /, JSON at
// /disclosure.json.
type Server struct {
	Reader client.Reader
	Now    func() time.Time
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "the disclosure is read-only", http.StatusMethodNotAllowed)
		return
	}
	if req.URL.Path != "/" && req.URL.Path != "/disclosure.json" {
		http.NotFound(w, req)
		return
	}
	page, err := Build(req.Context(), s.Reader, s.Now())
	if err != nil {
		http.Error(w, "the disclosure could not be read", http.StatusServiceUnavailable)
		return
	}
	if req.URL.Path == "/disclosure.json" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, page)
}

// Runnable serves the disclosure at Addr on every replica, for as long as the manager runs.
type Runnable struct {
	Addr   string
	Server *Server
}

// NeedLeaderElection is false: every replica serves the page.
func (Runnable) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (r Runnable) Start(ctx context.Context) error {
	srv := &http.Server{Addr: r.Addr, Handler: r.Server, ReadHeaderTimeout: 10 * time.Second}
	go func() { //nolint:gosec // the shutdown outlives ctx, which has ended
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}
