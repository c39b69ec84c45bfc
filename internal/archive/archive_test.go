package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/un-distro/undistro/internal/archive/compression"
)

func tarOf(t testing.TB, hs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, kind string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case compression.None:
		return b
	case compression.Gzip:
		w = gzip.NewWriter(&buf)
	case compression.XZ:
		w, err = xz.NewWriter(&buf)
	case compression.Zstd:
		w, err = zstd.NewWriter(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecompressAndRead: every compression is detected from its bytes and
// the reader returns the checked entries, skipping the root.
func TestDecompressAndRead(t *testing.T) {
	raw := tarOf(t,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "pkg/a", Typeflag: tar.TypeReg, Mode: 0o644},
		&tar.Header{Name: "pkg/l", Typeflag: tar.TypeSymlink, Linkname: "a"},
		&tar.Header{Name: "pkg/h", Typeflag: tar.TypeLink, Linkname: "pkg/a"},
	)
	for _, kind := range []string{compression.None, compression.Gzip, compression.XZ, compression.Zstd} {
		t.Run(kind, func(t *testing.T) {
			dec, got, err := compression.Decompress(bytes.NewReader(compress(t, kind, raw)))
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			if got != kind {
				t.Errorf("detected %s, want %s", got, kind)
			}
			r, err := NewReader(dec, Rules{})
			if err != nil {
				t.Fatal(err)
			}
			var seen []string
			for {
				_, e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, e.Kind.String()+" "+e.Name+" "+e.Link)
				if e.Kind == KindFile {
					b, _ := io.ReadAll(r)
					if string(b) != "pkg/a" {
						t.Errorf("content %q", b)
					}
				}
			}
			want := "directory pkg |regular file pkg/a |symlink pkg/l |regular file pkg/h pkg/a"
			if strings.Join(seen, "|") != want {
				t.Errorf("entries %q\nwant %q", strings.Join(seen, "|"), want)
			}
		})
	}
}

// TestRules: the rules a layer, a source tree and a builder-written tree
// share, with their rule names.
func TestRules(t *testing.T) {
	tests := []struct {
		name     string
		rules    Rules
		hs       []*tar.Header
		wantRule Rule
		wantErr  string
	}{
		{"absolute symlink inside", Rules{}, []*tar.Header{{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox"}}, "", ""},
		{"absolute symlink in a source tree", Rules{RelativeLinksOnly: true, Noun: "archive member"}, []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
			RuleSymlink, `refusing archive member "l": absolute symlink target "/etc/passwd" leaves the tree`},
		{"escaping symlink", Rules{}, []*tar.Header{{Name: "a/b/x", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/shadow"}},
			RuleSymlink, `refusing layer entry "a/b/x": symlink target "../../../etc/shadow" escapes the root`},
		{"setuid declared", Rules{Privileged: []string{"/bin/su"}}, []*tar.Header{{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}}, "", ""},
		{"setuid ignored for sources", Rules{IgnoreSetuid: true}, []*tar.Header{{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}}, "", ""},
		{"setuid undeclared", Rules{}, []*tar.Header{{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}},
			RuleSetuid, `refusing layer entry "bin/su": setuid/setgid bit (mode 4755)`},
		{"setgid directory", Rules{}, []*tar.Header{{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o2755}}, "", ""},
		{"fifo", Rules{}, []*tar.Header{{Name: "p", Typeflag: tar.TypeFifo}}, RuleSpecial, "fifo on a path"},
		{"hardlink to symlink", Rules{}, []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x"}, {Name: "h", Typeflag: tar.TypeLink, Linkname: "l"}},
			RuleHardlink, `hardlink target "l" is a symlink`},
		{"entry under a symlink", Rules{}, []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, {Name: "l/x", Typeflag: tar.TypeReg}},
			RuleParent, `parent "l" is a symlink`},
		{"deep entry under a symlink", Rules{}, []*tar.Header{{Name: "a/b/l", Typeflag: tar.TypeSymlink, Linkname: "c"}, {Name: "a/b/l/x/y", Typeflag: tar.TypeReg}},
			RuleParent, `parent "a/b/l" is a symlink`},
		{"entry under a file", Rules{}, []*tar.Header{{Name: "a/b/f", Typeflag: tar.TypeReg}, {Name: "a/b/f/x", Typeflag: tar.TypeReg}},
			RuleParent, `parent "a/b/f" is a regular file, not a directory`},
		{"size", Rules{MaxFileSize: 3}, []*tar.Header{{Name: "abcd", Typeflag: tar.TypeReg, Size: 4}}, RuleSize, "file size 4 exceeds the limit of 3 bytes"},
		{"sparse", Rules{}, []*tar.Header{{Name: "s", Typeflag: tar.TypeReg, PAXRecords: map[string]string{"GNU.sparse.major": "1"}}}, RuleType, "sparse file"},
		{"whiteout", Rules{}, []*tar.Header{{Name: "d/.wh..wh.plnk", Typeflag: tar.TypeReg}}, RuleWhiteout, "unsupported whiteout"},
		{"whiteout in a package", Rules{NoWhiteouts: true}, []*tar.Header{{Name: "etc/.wh.passwd", Typeflag: tar.TypeReg}}, RuleWhiteout, `".wh.passwd" is an OCI whiteout, which would delete etc/passwd from the layers below`},
		{"opaque whiteout in a package", Rules{NoWhiteouts: true}, []*tar.Header{{Name: "etc/.wh..wh..opq", Typeflag: tar.TypeReg}}, RuleWhiteout, `".wh..wh..opq" is an OCI whiteout`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for _, h := range tc.hs {
				if _, last = c.Check(h); last != nil {
					break
				}
			}
			if tc.wantErr == "" {
				if last != nil {
					t.Fatal(last)
				}
				return
			}
			var re *Error
			if !errors.As(last, &re) || !errors.Is(last, ErrRefused) {
				t.Fatalf("err = %v, want an *Error", last)
			}
			if re.Rule != tc.wantRule || !strings.Contains(last.Error(), tc.wantErr) {
				t.Errorf("err = %v (rule %s), want rule %s and %q", last, re.Rule, tc.wantRule, tc.wantErr)
			}
		})
	}
	if _, err := NewChecker(Rules{MaxEntries: -1}); err == nil || !strings.Contains(err.Error(), "negative limit") {
		t.Errorf("negative limit: err = %v", err)
	}
}

func TestZipHeader(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("top/file")
	w.Write([]byte("hi"))
	zw.Create("top/dir/")
	h := &zip.FileHeader{Name: "top/link"}
	h.SetMode(os.ModeSymlink | 0o777)
	w, _ = zw.CreateHeader(h)
	w.Write([]byte("../../etc"))
	zw.Close()
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewChecker(Rules{})
	var errs []string
	for _, f := range zr.File {
		th, err := ZipHeader(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Check(th); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 1 || errs[0] != `refusing layer entry "top/link": symlink target "../../etc" escapes the root` {
		t.Errorf("errors = %q", errs)
	}
}

// FuzzReader: the reader never panics and never returns an entry whose
// name or link would leave the root, whatever the bytes (tar, compressed or
// not). Seeded with runtime/unpack's hostile corpus.
func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "runtime", "unpack", "testdata", "hostile", "*.tar"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	good := tarOf(f, &tar.Header{Name: "a/", Typeflag: tar.TypeDir}, &tar.Header{Name: "a/b", Typeflag: tar.TypeReg})
	for _, kind := range []string{compression.None, compression.Gzip, compression.XZ, compression.Zstd} {
		f.Add(compress(f, kind, good))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec, _, err := compression.Decompress(bytes.NewReader(b))
		if err != nil {
			return
		}
		defer dec.Close()
		r, err := NewReader(io.LimitReader(dec, 1<<20), Rules{MaxFileSize: 1 << 20, MaxEntries: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for {
			h, e, err := r.Next()
			if err != nil {
				return
			}
			if _, why := CleanName(e.Name); why != "" || e.Name == ".." || strings.HasPrefix(e.Name, "../") {
				t.Fatalf("accepted name %q (%q)", e.Name, h.Name)
			}
			if e.Kind == KindSymlink && Escapes(filepath.Dir(e.Name), h.Linkname) {
				t.Fatalf("accepted escaping symlink %q -> %q", e.Name, h.Linkname)
			}
			if e.Kind == KindHardlink {
				if _, why := CleanName(e.Link); why != "" {
					t.Fatalf("accepted hardlink %q -> %q", e.Name, h.Linkname)
				}
			}
			if e.Kind == KindSpecial || (e.Kind != KindDir && h.Mode&0o6000 != 0) {
				t.Fatalf("accepted privileged entry %q with no privileged paths", e.Name)
			}
		}
	})
}
