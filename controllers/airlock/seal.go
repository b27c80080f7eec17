package airlock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Sealed is what sealing computed: the artifact's digest and size, as the seal Job reports them.
type Sealed struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Seal copies exactly one regular file — path, inside the directory from — to the new file to,
// and returns the SHA-256 and size of the bytes copied. It refuses, saying why, a path that
// leaves from, a symlink anywhere along it, anything but a regular file (a directory, device,
// FIFO or socket), a file larger than limit bytes (also one that grows past it while copied),
// and an existing destination; whatever it refuses leaves nothing at to.
func Seal(from, path, to string, limit int64) (_ Sealed, err error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		return Sealed{}, errors.New("the path names the claim itself, not a file in it")
	}
	root, err := os.OpenRoot(from)
	if err != nil {
		return Sealed{}, err
	}
	defer func() { _ = root.Close() }()
	// No symlink along the way, even one that stays inside the claim: the path names the file.
	parts := strings.Split(rel, "/")
	for i := range parts {
		info, err := root.Lstat(strings.Join(parts[:i+1], "/"))
		if err != nil {
			return Sealed{}, err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return Sealed{}, fmt.Errorf("%s is a symlink: an artifact is a regular file named by its own path", strings.Join(parts[:i+1], "/"))
		}
	}
	// O_NOFOLLOW against a swap after the check; O_NONBLOCK so that a FIFO cannot hold the seal.
	in, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Sealed{}, err
	}
	defer func() { _ = in.Close() }()
	info, err := in.Stat()
	if err != nil {
		return Sealed{}, err
	}
	if !info.Mode().IsRegular() {
		return Sealed{}, fmt.Errorf("%s is a %s, not a regular file", rel, fileKind(info.Mode()))
	}
	if info.Size() > limit {
		return Sealed{}, fmt.Errorf("%s is %d bytes, more than the %d an artifact may have", rel, info.Size(), limit)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444) //nolint:gosec // the sealed copy is read-only for everyone: the checks and the outbox read it
	if err != nil {
		return Sealed{}, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(to)
		}
	}()
	digest := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, digest), io.LimitReader(in, limit+1))
	if err != nil {
		return Sealed{}, err
	}
	if n > limit {
		return Sealed{}, fmt.Errorf("%s grew past the %d bytes an artifact may have while it was sealed", rel, limit)
	}
	if err := out.Sync(); err != nil {
		return Sealed{}, err
	}
	return Sealed{SHA256: hex.EncodeToString(digest.Sum(nil)), Size: n}, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
