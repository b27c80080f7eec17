package productcheck

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"
)

// Checks of imports, as findings name them.
const (
	CheckImportSize     = "ImportSize"
	CheckArchiveEntry   = "ArchiveEntry"
	CheckArchiveLimits  = "ArchiveLimits"
	CheckExecutable     = "Executable"
	CheckUnknownContent = "UnknownContent"
	CheckPersonalInfo   = "DeclaredPersonalInformation"
)

// ImportLimits bound what comes in, and what an archive may unpack to.
type ImportLimits struct {
	MaxBytes         int64
	MaxEntries       int
	MaxUnpackedBytes int64
	// MaxRatio is the largest unpacked-to-packed ratio of an archive: beyond it, a bomb.
	MaxRatio int64
}

// ImportDefaults are the limits of an import unless set otherwise: 1 GiB in, 10,000 entries,
// 4 GiB unpacked, a ratio of 100.
var ImportDefaults = ImportLimits{MaxBytes: 1 << 30, MaxEntries: 10000, MaxUnpackedBytes: 4 << 30, MaxRatio: 100}

// Sniff names a file's type by its content, never its name: zip, gzip, tar, pdf, png, jpeg,
// executable, text, or binary.
func Sniff(data []byte) string {
	has := func(prefix string) bool { return bytes.HasPrefix(data, []byte(prefix)) }
	switch {
	case has("PK\x03\x04"), has("PK\x05\x06"):
		return "zip"
	case has("\x1f\x8b"):
		return "gzip"
	case len(data) > 262 && bytes.Equal(data[257:262], []byte("ustar")):
		return "tar"
	case has("%PDF-"):
		return "pdf"
	case has("\x89PNG\r\n\x1a\n"):
		return "png"
	case has("\xff\xd8\xff"):
		return "jpeg"
	case has("\x7fELF"), has("MZ"), has("\xcf\xfa\xed\xfe"), has("\xca\xfe\xba\xbe"), has("#!"):
		return "executable"
	}
	head := data[:min(len(data), 8192)]
	if utf8.Valid(trimPartialRune(head)) && !bytes.ContainsRune(head, 0) {
		return "text"
	}
	return "binary"
}

// trimPartialRune drops a rune cut off at the end of a prefix.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// Import checks outside data or code coming into a domain (R4): its size; its type by content;
// an archive's entries (none leaving the archive, no links or devices) and limits (entries,
// unpacked size, ratio); and the identifier scan of every text in it, which fails unless the
// importer declared personal information (then a reviewer checks its legal basis). Executables,
// nested archives and content of no known type go to a reviewer.
func Import(data []byte, limits ImportLimits, personalInformationDeclared bool) Report {
	var r Report
	add := func(check string, outcome Outcome, format string, args ...any) {
		r.Findings = append(r.Findings, Finding{Check: check, Outcome: outcome, Message: fmt.Sprintf(format, args...)})
	}
	if int64(len(data)) > limits.MaxBytes {
		add(CheckImportSize, Fail, "%d bytes, more than the %d an import may have", len(data), limits.MaxBytes)
		return r
	}
	var texts []string
	switch kind := Sniff(data); kind {
	case "text":
		texts = append(texts, string(data))
	case "zip", "gzip", "tar":
		entries, err := unpack(kind, data, limits)
		if err != nil {
			add(CheckArchiveLimits, Fail, "%s", err)
			return r
		}
		for _, e := range entries {
			switch {
			case e.problem != "":
				add(CheckArchiveEntry, Fail, "entry %q: %s", e.name, e.problem)
			case e.kind == "text":
				texts = append(texts, e.text)
			case e.kind == "executable":
				add(CheckExecutable, Review, "entry %q is executable code: a reviewer judges what it does", e.name)
			case e.kind == "zip" || e.kind == "gzip" || e.kind == "tar":
				add(CheckUnknownContent, Review, "entry %q is itself an archive (%s), not unpacked here", e.name, e.kind)
			case e.kind == "binary":
				add(CheckUnknownContent, Review, "entry %q is of no known type", e.name)
			}
		}
	case "executable":
		add(CheckExecutable, Review, "executable code: a reviewer judges what it does")
	case "binary":
		add(CheckUnknownContent, Review, "content of no known type")
	}
	found := identifierFindings(texts, "")
	if personalInformationDeclared && len(found) > 0 {
		add(CheckPersonalInfo, Review, "personal information, as declared: a reviewer checks its legal basis")
		return r
	}
	r.Findings = append(r.Findings, found...)
	return r
}

type entry struct {
	name, kind, text, problem string
}

// unpack reads an archive's entries in memory, within the limits; it stops at the first limit
// crossed. A gzip that is not a tar is one entry.
func unpack(kind string, data []byte, limits ImportLimits) ([]entry, error) {
	var out []entry
	var unpacked int64
	take := func(name string, r io.Reader) (entry, error) {
		left := limits.MaxUnpackedBytes - unpacked
		b, err := io.ReadAll(io.LimitReader(r, left+1))
		if err != nil {
			return entry{}, err
		}
		unpacked += int64(len(b))
		if unpacked > limits.MaxUnpackedBytes {
			return entry{}, fmt.Errorf("unpacks to more than %d bytes", limits.MaxUnpackedBytes)
		}
		if unpacked > limits.MaxRatio*int64(len(data)) {
			return entry{}, fmt.Errorf("unpacks to more than %d times its size: a bomb", limits.MaxRatio)
		}
		e := entry{name: name, kind: Sniff(b)}
		if e.kind == "text" {
			e.text = string(b)
		}
		return e, nil
	}
	count := func() error {
		if len(out) > limits.MaxEntries {
			return fmt.Errorf("more than %d entries", limits.MaxEntries)
		}
		return nil
	}
	switch kind {
	case "zip":
		z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		for _, f := range z.File {
			if problem := entryProblem(f.Name, f.Mode().IsRegular() || f.Mode().IsDir()); problem != "" || f.Mode().IsDir() {
				if problem != "" {
					out = append(out, entry{name: f.Name, problem: problem})
				}
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			e, err := take(f.Name, rc)
			_ = rc.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			if err := count(); err != nil {
				return nil, err
			}
		}
	case "gzip", "tar":
		var r io.Reader = bytes.NewReader(data)
		if kind == "gzip" {
			gz, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			inner, err := take("(gzip)", gz)
			if err != nil {
				return nil, err
			}
			if inner.kind != "tar" {
				return []entry{inner}, nil
			}
			// The tar inside: read it again as a stream, its bytes already counted.
			gz, _ = gzip.NewReader(bytes.NewReader(data))
			r, unpacked = gz, 0
		}
		t := tar.NewReader(r)
		for {
			h, err := t.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			regular := h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeDir
			if problem := entryProblem(h.Name, regular); problem != "" || h.Typeflag == tar.TypeDir {
				if problem != "" {
					out = append(out, entry{name: h.Name, problem: problem})
				}
				continue
			}
			e, err := take(h.Name, t)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			if err := count(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// entryProblem says what is wrong with an archive entry's name or type: one that would land
// outside where it is unpacked, or a link or device.
func entryProblem(name string, regular bool) string {
	clean := path.Clean(strings.ReplaceAll(name, "\\", "/"))
	switch {
	case !regular:
		return "a link, device or other special entry"
	case path.IsAbs(clean), clean == "..", strings.HasPrefix(clean, "../"):
		return "its path leaves the archive"
	}
	return ""
}
