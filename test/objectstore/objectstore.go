// Package objectstore runs a real S3-compatible object store for tests: versitygw, built by
// hack/setup-objectstore.sh, keeping objects as files in a directory and enforcing object lock
// as a cloud store does.
package objectstore

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// BinaryEnv names the environment variable that holds the store's binary (make test sets it).
const BinaryEnv = "OPDOMAIN_VERSITYGW"

// Store is a running object store.
type Store struct {
	// Endpoint is its address, HOST:PORT, served over plain HTTP on loopback.
	Endpoint string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string

	cmd *exec.Cmd
}

// Run starts the store bin keeping its objects under dir and writing its log to log.
func Run(bin, dir string, log io.Writer) (*Store, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	endpoint := l.Addr().String()
	_ = l.Close()
	s := &Store{Endpoint: endpoint, AccessKey: "opdomain-test", SecretKey: "opdomain-test-secret"}
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", endpoint, "--quiet", "posix", dir)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.Dial("tcp", endpoint)
		if err == nil {
			_ = conn.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("the object store did not listen on %s: %w", endpoint, err)
		}
	}
}

// Stop ends the store.
func (s *Store) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Start runs a store until the test ends. Without OPDOMAIN_VERSITYGW the test is skipped,
// saying how to get one.
func Start(t testing.TB) *Store {
	t.Helper()
	bin := os.Getenv(BinaryEnv)
	if bin == "" {
		t.Skip("no object store: set " + BinaryEnv + " to the path hack/setup-objectstore.sh prints")
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(bin, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("object store log:\n%s", out)
		}
	})
	return s
}

// Client is a client with the store's root credentials.
func (s *Store) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
}

// MakeBucket creates a bucket, with object lock when locked, and returns its URL.
func (s *Store) MakeBucket(name string, locked bool) (string, error) {
	c, err := s.Client()
	if err != nil {
		return "", err
	}
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: locked}); err != nil {
		return "", fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return fmt.Sprintf("http://%s/%s", s.Endpoint, name), nil
}

// Credentials are the environment a process reaches the store's buckets with.
func (s *Store) Credentials() map[string]string {
	return map[string]string{"AWS_ACCESS_KEY_ID": s.AccessKey, "AWS_SECRET_ACCESS_KEY": s.SecretKey}
}

// Bucket creates a bucket for the test, as MakeBucket, and gives the process the store's
// credentials for the rest of the test.
func (s *Store) Bucket(t testing.TB, name string, locked bool) string {
	t.Helper()
	url, err := s.MakeBucket(name, locked)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Credentials() {
		t.Setenv(k, v)
	}
	return url
}
