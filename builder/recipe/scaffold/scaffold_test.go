package scaffold

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/un-distro/undistro/builder/recipe"
)

// rawTar is an uncompressed tar of files, each holding "x".
func rawTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressedTar is rawTar written through the compressor wrap makes.
func compressedTar(t *testing.T, wrap func(io.Writer) (io.WriteCloser, error), files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := wrap(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(rawTar(t, files...)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGz(t *testing.T, files ...string) []byte {
	return compressedTar(t, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil }, files...)
}

func tarXz(t *testing.T, files ...string) []byte {
	return compressedTar(t, func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) }, files...)
}

func tarZst(t *testing.T, files ...string) []byte {
	return compressedTar(t, func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) }, files...)
}

func zipOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNew(t *testing.T) {
	archives := map[string][]byte{
		"/hello-2.12.tar.gz":  tarGz(t, "hello-2.12/configure", "hello-2.12/Makefile.in", "hello-2.12/src/hello.c"),
		"/app-1.0.tar.gz":     tarGz(t, "app-1.0/CMakeLists.txt", "app-1.0/Makefile"),
		"/tool_v0.3.1.tar.gz": tarGz(t, "tool/go.mod", "tool/main.go"),
		"/lib-3.0.zip":        zipOf(t, "lib-3.0/meson.build", "lib-3.0/lib.c"),
		"/plain-1.tar.gz":     tarGz(t, "plain-1/Makefile"),
		"/xzapp-4.2.tar.xz":   tarXz(t, "xzapp-4.2/configure", "xzapp-4.2/main.c"),
		"/zapp-5.0.tar.zst":   tarZst(t, "zapp-5.0/go.mod", "zapp-5.0/main.go"),
		"/evil-1.tar.gz":      tarGz(t, "evil-1/configure", "../../etc/cron.d/x"),
		"/odd.tar.gz":         tarGz(t, "a/README", "b/README"),
		"/notes.txt":          []byte("not an archive at all, just some text that is long enough to fail tar parsing ..........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................."),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := archives[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	fileDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(fileDir, "hello-2.12.tar.gz"), archives["/hello-2.12.tar.gz"], 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, recipe, url string
		wantVersion       string
		wantScript        string // a line the build script must have
		wantDeps          string
		wantErr           string
	}{
		{"autotools over http", "hello", srv.URL + "/hello-2.12.tar.gz", "2.12", `./configure --prefix="$PREFIX"`, `build = ["host:gcc", "host:make"]`, ""},
		{"autotools from file", "hello", "file://" + filepath.Join(fileDir, "hello-2.12.tar.gz"), "2.12", `./configure --prefix="$PREFIX"`, `build = ["host:gcc", "host:make"]`, ""},
		{"cmake wins over Makefile", "app", srv.URL + "/app-1.0.tar.gz", "1.0", `cmake -S . -B build`, `"host:cmake"`, ""},
		{"go module", "tool", srv.URL + "/tool_v0.3.1.tar.gz", "0.3.1", `-o "$DESTDIR/usr/bin/tool" .`, `build = ["host:go"]`, ""},
		{"meson in a zip", "lib", srv.URL + "/lib-3.0.zip", "3.0", `meson setup build`, `"host:meson"`, ""},
		{"plain make", "plain", srv.URL + "/plain-1.tar.gz", "1", `make install DESTDIR="$DESTDIR" PREFIX="$PREFIX"`, `"host:make"`, ""},
		{"autotools in a tar.xz", "xzapp", srv.URL + "/xzapp-4.2.tar.xz", "4.2", `./configure --prefix="$PREFIX"`, `build = ["host:gcc", "host:make"]`, ""},
		{"go in a tar.zst", "zapp", srv.URL + "/zapp-5.0.tar.zst", "5.0", `-o "$DESTDIR/usr/bin/zapp" .`, `build = ["host:go"]`, ""},
		{"hostile archive", "evil", srv.URL + "/evil-1.tar.gz", "", "", "", `refusing archive member "../../etc/cron.d/x": ".." component`},
		{"no build system", "odd", srv.URL + "/odd.tar.gz", "0", `exit 1`, `build = []`, ""},
		{"not found", "gone", srv.URL + "/gone-1.tar.gz", "", "", "", "downloading " + srv.URL + "/gone-1.tar.gz: server answered 404 Not Found"},
		{"not an archive", "notes", srv.URL + "/notes.txt", "", "", "", "not a tar (plain, gzip, bzip2, xz or zstd) or zip archive"},
		{"bad name", "Bad", srv.URL + "/hello-2.12.tar.gz", "", "", "", `recipe name "Bad": use lower-case letters`},
		{"bad scheme", "x", "ftp://example.com/x.tar.gz", "", "", "", `url "ftp://example.com/x.tar.gz": want an http, https or file URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "recipes")
			p, err := New(context.Background(), tc.recipe, tc.url, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(dir, tc.recipe+".toml")); err == nil {
					t.Error("a recipe was written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := recipe.Load(p)
			if err != nil {
				t.Fatalf("the skeleton does not load: %v", err)
			}
			archive := archives[tc.url[strings.LastIndex(tc.url, "/"):]]
			sum := sha256.Sum256(archive)
			if r.Source.SHA256 != hex.EncodeToString(sum[:]) || r.Source.URL != tc.url {
				t.Errorf("source = %+v, want the url and sha256 of the archive", r.Source)
			}
			if r.Version != tc.wantVersion {
				t.Errorf("version = %q, want %q", r.Version, tc.wantVersion)
			}
			data, _ := os.ReadFile(p)
			if !strings.Contains(r.Build.Script, tc.wantScript) || !strings.Contains(string(data), tc.wantDeps) {
				t.Errorf("skeleton lacks %q or %q:\n%s", tc.wantScript, tc.wantDeps, data)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("recipes dir holds %d entries, want only the recipe (no temp files)", len(entries))
			}
			// A second run must not overwrite it.
			before, _ := os.ReadFile(p)
			if _, err := New(context.Background(), tc.recipe, tc.url, dir); !errors.Is(err, ErrExists) {
				t.Errorf("second New: %v, want ErrExists", err)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
				t.Error("second New changed the recipe")
			}
		})
	}
}
