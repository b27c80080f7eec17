package productcheck

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func zipOf(t *testing.T, entries map[string]string, modes map[string]fs.FileMode) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range entries {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if m, ok := modes[name]; ok {
			h.SetMode(m)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGzOf(t *testing.T, headers ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := tar.NewWriter(gz)
	for _, h := range headers {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Size, h.Linkname = int64(len(body)), ""
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = w.Write([]byte(body))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = gz.Close()
	return buf.Bytes()
}

// reg is a regular tar entry; its body rides in Linkname until tarGzOf writes it.
func reg(name, body string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Linkname: body}
}

func TestR4_ImportChecks(t *testing.T) {
	small := ImportLimits{MaxBytes: 1 << 20, MaxEntries: 3, MaxUnpackedBytes: 1 << 20, MaxRatio: 100}
	clean := "road_id,hour,speed\nG2-17,08,54.2\n"
	personal := "name,id\nZhang San,11010519491231002X\n"
	for _, tc := range []struct {
		name     string
		data     []byte
		declared bool
		limits   ImportLimits
		want     string
	}{
		{name: "a clean table", data: []byte(clean), want: "[]"},
		{name: "a table with a resident ID", data: []byte(personal), want: "[Identifiers/Fail]"},
		{name: "declared personal information goes to a person", data: []byte(personal), declared: true, want: "[DeclaredPersonalInformation/Review]"},
		{name: "code goes to a person", data: []byte("\x7fELF\x02\x01\x01"), want: "[Executable/Review]"},
		{name: "a script too", data: []byte("#!/bin/sh\ncurl example.com\n"), want: "[Executable/Review]"},
		{name: "content of no known type", data: []byte{0, 1, 2, 3, 0xff, 0xfe}, want: "[UnknownContent/Review]"},
		{name: "too large", data: []byte(strings.Repeat("x", 2<<20)), want: "[ImportSize/Fail]"},
		{name: "a clean zip", data: zipOf(t, map[string]string{"a.csv": clean}, nil), want: "[]"},
		{name: "a zip hiding a resident ID", data: zipOf(t, map[string]string{"a.csv": clean, "b/c.csv": personal}, nil), want: "[Identifiers/Fail]"},
		{name: "a zip entry climbing out", data: zipOf(t, map[string]string{"../../etc/cron.d/x": clean}, nil), want: "[ArchiveEntry/Fail]"},
		{name: "an absolute zip entry", data: zipOf(t, map[string]string{"/etc/passwd": clean}, nil), want: "[ArchiveEntry/Fail]"},
		{name: "a zip symlink", data: zipOf(t, map[string]string{"link": "/etc/shadow"}, map[string]fs.FileMode{"link": fs.ModeSymlink | 0o777}), want: "[ArchiveEntry/Fail]"},
		{name: "a zip bomb", data: zipOf(t, map[string]string{"zeros": strings.Repeat("\x00", 900<<10)}, nil), want: "[ArchiveLimits/Fail]"},
		{name: "too many entries", data: zipOf(t, map[string]string{"1": clean, "2": clean, "3": clean, "4": clean}, nil), want: "[ArchiveLimits/Fail]"},
		{name: "an archive in an archive goes to a person", data: zipOf(t, map[string]string{"inner.zip": string(zipOf(t, map[string]string{"a.csv": clean}, nil))}, nil),
			want: "[UnknownContent/Review]"},
		{name: "a tar.gz with a mobile number", data: tarGzOf(t, reg("a.csv", clean), reg("contacts.txt", "call 13800138000")), want: "[Identifiers/Fail]"},
		{name: "a tar.gz hard link", data: tarGzOf(t, reg("a.csv", clean), &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}), want: "[ArchiveEntry/Fail]"},
		{name: "a tar.gz device", data: tarGzOf(t, &tar.Header{Name: "dev", Typeflag: tar.TypeChar}), want: "[ArchiveEntry/Fail]"},
		{name: "a gzip of a text", data: func() []byte {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write([]byte(personal))
			_ = gz.Close()
			return b.Bytes()
		}(), want: "[Identifiers/Fail]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limits := tc.limits
			if limits == (ImportLimits{}) {
				limits = small
			}
			got := []string{}
			for _, f := range Import(tc.data, limits, tc.declared).Findings {
				got = append(got, f.Check+"/"+string(f.Outcome))
			}
			if g := fmt.Sprint(got); g != tc.want {
				t.Fatalf("findings %v, want %s", got, tc.want)
			}
		})
	}
}

func TestR4_SniffGoesByContentNotName(t *testing.T) {
	for data, want := range map[string]string{
		"%PDF-1.7":                "pdf",
		"\x89PNG\r\n\x1a\n....":   "png",
		"MZ\x90\x00":              "executable",
		"区,人数\n玄武,120\n":          "text",
		"PK\x03\x04rest":          "zip",
		"plain text, nothing odd": "text",
	} {
		if got := Sniff([]byte(data)); got != want {
			t.Errorf("Sniff(%q) = %s, want %s", data, got, want)
		}
	}
}
