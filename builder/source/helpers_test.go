package source

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// member is one archive entry for test archives.
type member struct {
	name string
	body string
	typ  byte // tar type flag; 0 means regular file
	link string
	mode int64
}

func tarBytes(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Linkname: m.link, Mode: m.mode, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipBytes(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		fh := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		switch m.typ {
		case tar.TypeSymlink:
			fh.SetMode(fs.ModeSymlink | 0o777)
			m.body = m.link
		case tar.TypeDir:
			fh.SetMode(fs.ModeDir | 0o755)
		default:
			fh.SetMode(fs.FileMode(m.mode) | 0o644)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if m.typ != tar.TypeDir {
			w.Write([]byte(m.body))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressWith pipes b through a compressor command (xz, bzip2).
func compressWith(t testing.TB, tool string, b []byte) []byte {
	t.Helper()
	pkg := map[string]string{"xz": "xz-utils"}[tool]
	if pkg == "" {
		pkg = tool
	}
	testsupport.RequireTool(t, tool, "apt-get install "+pkg)
	cmd := exec.Command(tool, "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tempDir is t.TempDir that also removes read-only trees when not root.
func tempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	t.Cleanup(func() { removeTree(d) })
	return d
}

// countingServer serves files and counts requests per path.
type countingServer struct {
	*httptest.Server
	files map[string][]byte
	hits  atomic.Int64
}

func newServer(t testing.TB, files map[string][]byte) *countingServer {
	s := &countingServer{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		b, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// listTree returns "kind path[ -> target]" lines for everything under dir.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			out = append(out, "d "+rel)
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, "l "+rel+" -> "+l)
		default:
			b, _ := os.ReadFile(p)
			out = append(out, "f "+rel+" "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func newTestCache(t testing.TB, opts ...Option) (*Cache, string) {
	t.Helper()
	dir := filepath.Join(tempDir(t), "src")
	c, err := NewCache(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// cacheEntries lists the cache directory's entries (for "nothing kept").
func cacheEntries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

var bg = context.Background()

// fetchCase fetches r with a fresh cache and checks the error against
// want ("" for none). A failed fetch must leave nothing in the cache; it
// returns nil, else what was fetched.
func fetchCase(t *testing.T, r *recipe.Recipe, want string) *Fetched {
	t.Helper()
	c, dir := newTestCache(t)
	f, err := c.Fetch(bg, r)
	if !testsupport.WantErr(t, err, want) {
		return f
	}
	if got := cacheEntries(t, dir); len(got) != 0 {
		t.Errorf("cache holds %q after a failed fetch, want nothing", got)
	}
	return nil
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
