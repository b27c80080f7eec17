// Package objectstore runs a real S3-compatible object store for tests: versitygw, built by
// hack/setup-objectstore.sh, keeping objects as files in a test's temporary directory and
// enforcing object lock as a cloud store does.
package objectstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Store is a running object store.
type Store struct {
	// Endpoint is its address, HOST:PORT, served over plain HTTP on loopback.
	Endpoint string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string
}

// Start runs an object store until the test ends. OPDOMAIN_VERSITYGW names its binary (make
// test sets it); without it the test is skipped, saying how to get one.
func Start(t testing.TB) *Store {
	t.Helper()
	bin := os.Getenv("OPDOMAIN_VERSITYGW")
	if bin == "" {
		t.Skip("no object store: set OPDOMAIN_VERSITYGW to the path hack/setup-objectstore.sh prints")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	_ = l.Close()
	s := &Store{Endpoint: endpoint, AccessKey: "opdomain-test", SecretKey: "opdomain-test-secret"}
	dir := t.TempDir()
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", endpoint, "--quiet", "posix", dir)
	log, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("object store log:\n%s", out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", endpoint)
		if err == nil {
			_ = conn.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the object store did not listen on %s: %v", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client is a client with the store's root credentials.
func (s *Store) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a bucket, with object lock when locked, and returns its URL; the process's
// AWS credentials are the store's for the rest of the test.
func (s *Store) Bucket(t testing.TB, name string, locked bool) string {
	t.Helper()
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: locked}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	return fmt.Sprintf("http://%s/%s", s.Endpoint, name)
}
