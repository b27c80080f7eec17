package records

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// AppendPath is where the recorder takes records that the manager itself makes (a grant token's
// use, as introspection answers it), when the two run apart: the same port, certificate and
// token as the audit events.
const AppendPath = "/records"

// Appender keeps records of a domain, or fails: a Store in the process, or Remote.
type Appender interface {
	Append(ctx context.Context, domain string, recs []Record) error
}

// appendRequest is what Remote sends to AppendPath.
type appendRequest struct {
	Domain  string   `json:"domain"`
	Records []Record `json:"records"`
}

// Appends is the recorder's side of Remote: it keeps the records it is sent, numbered and
// chained after the domain's newest, from whoever presents the token and no one else.
func (rc *Receiver) Appends() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !rc.authorized(req) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var in appendRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := rc.Store.Append(req.Context(), in.Domain, in.Records); err != nil {
			logf.FromContext(req.Context()).Error(err, "appending operation records", "domain", in.Domain)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// Remote sends records to the recorder (AppendPath) and returns once they are kept. It trusts
// the recorder's certificate by the CA in CAFile, read again for every request, so that the
// CA's rotation needs no restart.
type Remote struct {
	// URL is the recorder's AppendPath, e.g. https://opdomain-recorder.opdomain-system.svc/records.
	URL    string
	CAFile string
	Token  string

	mu     sync.Mutex
	ca     []byte
	client *http.Client // trusts ca; its connections are kept until the CA changes
}

// Append sends recs and fails unless the recorder kept them.
func (r *Remote) Append(ctx context.Context, domain string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	c, err := r.httpClient()
	if err != nil {
		return err
	}
	body, err := json.Marshal(appendRequest{Domain: domain, Records: recs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sending records to the recorder: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return errors.New("the recorder refused the records: " + resp.Status + ": " + string(bytes.TrimSpace(msg)))
	}
	return nil
}

// httpClient is a client that trusts the CA now in CAFile.
func (r *Remote) httpClient() (*http.Client, error) {
	ca, err := os.ReadFile(r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("the recorder's CA: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil && bytes.Equal(ca, r.ca) {
		return r.client, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("the recorder's CA: no certificate in %s", r.CAFile)
	}
	if r.client != nil {
		r.client.CloseIdleConnections()
	}
	r.ca, r.client = ca, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	return r.client, nil
}
