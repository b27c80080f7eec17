package airlock

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// claim lays out a workspace claim as a member could leave it, beside a secret outside it.
func claim(t *testing.T) (from, outside string) {
	t.Helper()
	dir := t.TempDir()
	from = filepath.Join(dir, "claim")
	outside = filepath.Join(dir, "secret.csv")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(from, "tables"), 0o755))
	must(os.WriteFile(filepath.Join(from, "tables", "congestion.csv"), []byte("district,hour,count\nXuanwu,08,120\n"), 0o644))
	must(os.WriteFile(filepath.Join(from, "tables", "big.csv"), []byte(strings.Repeat("x", 2048)), 0o644))
	must(os.WriteFile(outside, []byte("110101199003074514,Zhang San\n"), 0o644))
	must(os.Symlink(outside, filepath.Join(from, "tables", "escape.csv")))
	must(os.Symlink("congestion.csv", filepath.Join(from, "tables", "alias.csv")))
	must(os.Symlink("tables", filepath.Join(from, "linked")))
	must(syscall.Mkfifo(filepath.Join(from, "tables", "pipe.csv"), 0o644))
	l, err := net.Listen("unix", filepath.Join(from, "tables", "socket.csv"))
	must(err)
	t.Cleanup(func() { _ = l.Close() })
	return from, outside
}

func TestR5_SealCopiesExactlyOneRegularFileAndItsDigest(t *testing.T) {
	from, _ := claim(t)
	to := filepath.Join(t.TempDir(), "artifact")
	got, err := Seal(from, "/tables/congestion.csv", to, 1024)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("district,hour,count\nXuanwu,08,120\n")
	sum := sha256.Sum256(want)
	if got.SHA256 != hex.EncodeToString(sum[:]) || got.Size != int64(len(want)) {
		t.Fatalf("sealed %+v, want %x and %d bytes", got, sum, len(want))
	}
	copied, err := os.ReadFile(to)
	if err != nil || string(copied) != string(want) {
		t.Fatalf("the sealed copy: %q, %v", copied, err)
	}
	if info, _ := os.Stat(to); info.Mode().Perm() != 0o444 {
		t.Fatalf("the sealed copy is %v, want read-only", info.Mode())
	}
	if _, err := Seal(from, "/tables/congestion.csv", to, 1024); err == nil {
		t.Fatal("a second seal over the first was admitted")
	}
}

func TestR5_SealRefusesWhatIsNotOneRegularFileInTheClaim(t *testing.T) {
	from, _ := claim(t)
	for _, tc := range []struct{ path, want string }{
		{"/tables/escape.csv", "symlink"},       // a symlink to a file outside the claim
		{"/tables/alias.csv", "symlink"},        // a symlink that stays inside
		{"/linked/congestion.csv", "symlink"},   // a symlinked directory on the way
		{"/../secret.csv", "no such file"},      // climbing out is cleaned to the claim's root
		{"/tables/../../secret.csv", "no such"}, // likewise
		{"/tables", "directory"},
		{"/tables/pipe.csv", "FIFO"},
		{"/tables/socket.csv", "no such device"}, // a socket cannot even be opened
		{"/tables/big.csv", "more than the 1024"},
		{"/", "the claim itself"},
		{"/tables/missing.csv", "no such file"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			to := filepath.Join(t.TempDir(), "artifact")
			done := make(chan error, 1)
			go func() { _, err := Seal(from, tc.path, to, 1024); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Seal(%s): %v, want an error containing %q", tc.path, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Seal(%s) hung", tc.path)
			}
			if _, err := os.Stat(to); !os.IsNotExist(err) {
				t.Fatalf("a refused seal left %s: %v", to, err)
			}
		})
	}
}
