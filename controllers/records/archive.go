package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Archive is an S3-compatible bucket with object lock in which a domain's sealed segments are
// kept once their day is over, so that the volume holds only each domain's newest day. Each
// segment is written once under COMPLIANCE retention until its last record's retention runs
// out: the store itself then refuses to overwrite or delete it earlier, whoever asks, the
// operator and whoever holds the bucket's keys included.
type Archive struct {
	client *minio.Client
	bucket string
	url    string
}

// URL is the bucket's URL, as NewArchive was given it.
func (a *Archive) URL() string { return a.url }

// shaKey is the user metadata under which a segment's SHA-256 travels with it, so that a
// segment shipped before a crash is recognised as the same bytes.
const shaKey = "Sha256"

// NewArchive connects to the bucket at rawURL, https://HOST[:PORT]/BUCKET (http:// only for a
// store reached over a network that already protects it), with the credentials in the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), and refuses a bucket without object
// lock: records in it could be deleted before their retention ran out.
func NewArchive(ctx context.Context, rawURL string) (*Archive, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("records bucket %q: %w", rawURL, err)
	}
	bucket := strings.Trim(u.Path, "/")
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || bucket == "" || strings.Contains(bucket, "/") {
		return nil, fmt.Errorf("records bucket %q: want https://HOST[:PORT]/BUCKET", rawURL)
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewEnvAWS(), Secure: u.Scheme == "https"})
	if err != nil {
		return nil, fmt.Errorf("records bucket %q: %w", rawURL, err)
	}
	lock, _, _, _, err := c.GetObjectLockConfig(ctx, bucket)
	if err != nil && minio.ToErrorResponse(err).Code != "ObjectLockConfigurationNotFoundError" {
		return nil, fmt.Errorf("records bucket %q: reading its object lock: %w", rawURL, err)
	}
	if lock != "Enabled" {
		return nil, fmt.Errorf("records bucket %q has no object lock: records in it could be deleted before their retention ran out", rawURL)
	}
	return &Archive{client: c, bucket: bucket, url: rawURL}, nil
}

// key is where a domain's segment is kept: the same name as on the volume.
func key(domain, name string) string { return domain + "/" + name }

// names lists the domain's archived segments.
func (a *Archive) names(ctx context.Context, domain string) ([]string, error) {
	var names []string
	for o := range a.client.ListObjects(ctx, a.bucket, minio.ListObjectsOptions{Prefix: domain + "/", Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("listing records of %s in the bucket: %w", domain, o.Err)
		}
		if name := path.Base(o.Key); strings.HasSuffix(name, ".jsonl") {
			names = append(names, name)
		}
	}
	return names, nil
}

// open reads an archived segment.
func (a *Archive) open(ctx context.Context, domain, name string) (io.ReadCloser, error) {
	o, err := a.client.GetObject(ctx, a.bucket, key(domain, name), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key(domain, name), err)
	}
	return o, nil
}

// put keeps the segment at file under retention until retainUntil. A segment already there
// (shipped before the process stopped, before its file was removed) must hold the same bytes:
// anything else is a conflict the operator has to look at, and the file stays.
func (a *Archive) put(ctx context.Context, domain, name, file string, retainUntil time.Time) error {
	content, err := os.ReadFile(file) //nolint:gosec // a segment of the store's own directory
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	k := key(domain, name)
	switch held, err := a.client.StatObject(ctx, a.bucket, k, minio.StatObjectOptions{}); {
	case err == nil && held.UserMetadata[shaKey] == digest:
		return nil
	case err == nil:
		return fmt.Errorf("the bucket already holds %s with other content (SHA-256 %q, the volume's %s): kept both", k, held.UserMetadata[shaKey], digest)
	case minio.ToErrorResponse(err).StatusCode != http.StatusNotFound:
		return fmt.Errorf("looking up %s: %w", k, err)
	}
	_, err = a.client.PutObject(ctx, a.bucket, k, bytes.NewReader(content), int64(len(content)), minio.PutObjectOptions{
		ContentType: "application/jsonl", UserMetadata: map[string]string{shaKey: digest},
		Mode: minio.Compliance, RetainUntilDate: retainUntil, SendContentMd5: true,
	})
	if err != nil {
		return fmt.Errorf("keeping %s in the bucket: %w", k, err)
	}
	return nil
}

// ErrLocked is the archive's refusal to remove a segment whose lock has not ended by the store's
// own clock.
var ErrLocked = errors.New("the records' archive still holds it under its lock")

// remove deletes an archived segment; one already gone is no error. It deletes the version it
// finds, not the key: in a versioned bucket (S3's object lock needs one) deleting the key would
// only hide the segment behind a delete marker, keeping its bytes for good and showing a gap.
// The store refuses while the segment's lock holds (ErrLocked).
func (a *Archive) remove(ctx context.Context, domain, name string) error {
	k := key(domain, name)
	held, err := a.client.StatObject(ctx, a.bucket, k, minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up %s: %w", k, err)
	}
	err = a.client.RemoveObject(ctx, a.bucket, k, minio.RemoveObjectOptions{VersionID: held.VersionID})
	switch minio.ToErrorResponse(err).StatusCode {
	case 0, http.StatusNotFound:
		return nil
	case http.StatusForbidden:
		return fmt.Errorf("removing %s: %w (%w)", k, ErrLocked, err)
	}
	return fmt.Errorf("removing %s from the bucket: %w", k, err)
}
