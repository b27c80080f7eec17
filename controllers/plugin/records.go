package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/opdomain/opdomain/controllers/records"
)

// listRecords prints the domain's operation records that match the filters, oldest first, read
// page by page through the records' API as the caller: RBAC decides, by the verb get on
// operationrecords named after the domain.
func listRecords(ctx context.Context, in *invocation) (int, error) {
	if err := in.want(1, "DOMAIN"); err != nil {
		return 2, err
	}
	params := map[string]string{"workspace": in.workspace, "person": in.person, "grant": in.grant}
	for name, value := range map[string]string{"since": in.since, "until": in.until} {
		at, err := instant(value, time.Now())
		if err != nil {
			return 2, fmt.Errorf("--%s: %w", name, err)
		}
		if !at.IsZero() {
			params[name] = at.Format(time.RFC3339)
		}
	}
	api, err := rest.UnversionedRESTClientFor(withoutGroup(in.config))
	if err != nil {
		return 2, err
	}
	found := []records.Record{}
	for next := ""; ; {
		page := records.MaxPage
		if in.limit > 0 {
			page = min(page, in.limit-len(found))
		}
		req := api.Get().AbsPath("/apis", records.APIGroup, records.APIVersion, records.APIResource, in.args[0]).
			Param("limit", strconv.Itoa(page)).Param("continue", next)
		for name, value := range params {
			if value != "" {
				req = req.Param(name, value)
			}
		}
		res := req.Do(ctx)
		if err := res.Error(); err != nil { // the API server's Status, as kubectl shows it
			return 2, err
		}
		raw, err := res.Raw()
		if err != nil {
			return 2, err
		}
		var got records.OperationRecords
		if err := json.Unmarshal(raw, &got); err != nil {
			return 2, fmt.Errorf("reading the records' API's answer: %w", err)
		}
		found = append(found, got.Records...)
		if next = got.Continue; next == "" || in.limit > 0 && len(found) >= in.limit {
			break
		}
	}
	if printed, err := in.print(found); printed || err != nil {
		return 0, err
	}
	w := tabwriter.NewWriter(in.stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, strings.Join(records.Columns, "\t"))
	for _, r := range found {
		_, _ = fmt.Fprintln(w, strings.Join(r.Row(), "\t"))
	}
	return 0, w.Flush()
}

// withoutGroup is cfg for a client of absolute paths: no group, version or serializer of its own.
func withoutGroup(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.GroupVersion, c.APIPath = nil, ""
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	return c
}

// instant reads a flag's time: RFC 3339, or a duration back from now; "" is no time.
func instant(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(value); err == nil {
		return now.Add(-d), nil
	}
	at, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 or a duration such as 24h, got %q", value)
	}
	return at, nil
}
