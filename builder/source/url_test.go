package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
)

var helloTree = []member{
	{name: "hello-1.0/", typ: tar.TypeDir},
	{name: "hello-1.0/README", body: "hi\n"},
	{name: "hello-1.0/bin/run", body: "#!/bin/sh\n", mode: 0o755},
	{name: "hello-1.0/link", typ: tar.TypeSymlink, link: "README"},
}

var helloWant = []string{"d bin", "f README hi\n", "f bin/run #!/bin/sh\n", "l link -> README"}

func urlRecipe(u string, body []byte) *recipe.Recipe {
	return &recipe.Recipe{Name: "hello", File: "recipes/hello.toml", Source: recipe.Source{URL: u, SHA256: sha(body)}}
}

func TestURLFormats(t *testing.T) {
	tarball := tarBytes(t, helloTree)
	cases := []struct {
		name string
		file string
		body func(t *testing.T) []byte
		want []string
	}{
		{"tar", "hello.tar", func(*testing.T) []byte { return tarball }, helloWant},
		{"tar.gz", "hello.tar.gz", func(t *testing.T) []byte { return gzipBytes(t, tarball) }, helloWant},
		{"tgz", "hello.tgz", func(t *testing.T) []byte { return gzipBytes(t, tarball) }, helloWant},
		{"tar.xz", "hello.tar.xz", func(t *testing.T) []byte { return compressWith(t, "xz", tarball) }, helloWant},
		{"tar.bz2", "hello.tar.bz2", func(t *testing.T) []byte { return compressWith(t, "bzip2", tarball) }, helloWant},
		{"zip", "hello.zip", func(t *testing.T) []byte { return zipBytes(t, helloTree) }, helloWant},
		{"plain file kept", "tool.sh", func(*testing.T) []byte { return []byte("echo\n") }, []string{"f tool.sh echo\n"}},
		{"two top dirs not stripped", "two.tar", func(t *testing.T) []byte {
			return tarBytes(t, []member{{name: "a/x", body: "1"}, {name: "b/y", body: "2"}})
		}, []string{"d a", "d b", "f a/x 1", "f b/y 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body(t)
			srv := newServer(t, map[string][]byte{"/dl/" + tc.file: body})
			c, _ := newTestCache(t)
			f, err := c.Fetch(bg, urlRecipe(srv.URL+"/dl/"+tc.file, body))
			if err != nil {
				t.Fatal(err)
			}
			if got := listTree(t, f.Dir); !slices.Equal(got, tc.want) {
				t.Errorf("tree = %q, want %q", got, tc.want)
			}
			if f.Identity != "sha256:"+sha(body) || f.Location != srv.URL+"/dl/"+tc.file {
				t.Errorf("identity, location = %q, %q", f.Identity, f.Location)
			}
		})
	}
}

func TestURLCacheHit(t *testing.T) {
	body := gzipBytes(t, tarBytes(t, helloTree))
	srv := newServer(t, map[string][]byte{"/hello.tar.gz": body})
	c, dir := newTestCache(t)
	r := urlRecipe(srv.URL+"/hello.tar.gz", body)
	f1, err := c.Fetch(bg, r)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("first fetch made %d requests, want 1", n)
	}
	// A new Cache on the same directory, as a later process would open it.
	c2, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := c2.Fetch(bg, r)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("second fetch made %d more requests, want 0", n-1)
	}
	if f1.Dir != f2.Dir {
		t.Errorf("second fetch dir %s, first %s", f2.Dir, f1.Dir)
	}
	fi, err := os.Stat(filepath.Join(f1.Dir, "README"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("README mode %v, want read-only 0444", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(f1.Dir, "bin", "run")); fi.Mode().Perm() != 0o555 {
		t.Errorf("bin/run mode %v, want 0555", fi.Mode().Perm())
	}
}

func TestURLFileScheme(t *testing.T) {
	body := tarBytes(t, helloTree)
	file := filepath.Join(t.TempDir(), "hello.tar")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := newTestCache(t)
	f, err := c.Fetch(bg, urlRecipe("file://"+file, body))
	if err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, f.Dir); !slices.Equal(got, helloWant) {
		t.Errorf("tree = %q", got)
	}
}

func TestURLErrors(t *testing.T) {
	good := tarBytes(t, helloTree)
	srv := newServer(t, map[string][]byte{
		"/hello.tar":  good,
		"/evil.tar":   tarBytes(t, []member{{name: "../x", body: "pwned"}}),
		"/abs.tar":    tarBytes(t, []member{{name: "/tmp/x", body: "pwned"}}),
		"/escape.tar": tarBytes(t, []member{{name: "l", typ: tar.TypeSymlink, link: "../../etc"}}),
		"/dev.tar":    tarBytes(t, []member{{name: "null", typ: tar.TypeChar}}),
	})
	other := strings.Repeat("0", 64)
	cases := []struct {
		name string
		src  recipe.Source
		want string
	}{
		{"checksum mismatch", recipe.Source{URL: srv.URL + "/hello.tar", SHA256: other},
			fmt.Sprintf("checksum mismatch for %s/hello.tar: recipe says sha256:%s, downloaded sha256:%s; fix the sha256 in recipes/x.toml if the new file is trusted", srv.URL, other, sha(good))},
		{"dotdot member", recipe.Source{URL: srv.URL + "/evil.tar", SHA256: sha(srv.files["/evil.tar"])}, `unsafe archive: refusing archive member "../x": ".." component`},
		{"absolute member", recipe.Source{URL: srv.URL + "/abs.tar", SHA256: sha(srv.files["/abs.tar"])}, `unsafe archive: refusing archive member "/tmp/x": absolute path`},
		{"symlink escape", recipe.Source{URL: srv.URL + "/escape.tar", SHA256: sha(srv.files["/escape.tar"])}, `unsafe archive: refusing archive member "l": symlink target "../../etc" escapes the root`},
		{"device node", recipe.Source{URL: srv.URL + "/dev.tar", SHA256: sha(srv.files["/dev.tar"])}, `unsafe archive: refusing archive member "null": character device (device nodes and fifos are never allowed here)`},
		{"not found", recipe.Source{URL: srv.URL + "/nope.tar", SHA256: other}, "server answered 404 Not Found"},
		{"missing sha256", recipe.Source{URL: srv.URL + "/hello.tar"}, `recipes/x.toml: source: bad source: url source has no sha256; add sha256 = "<64 hex digits>"`},
		{"short sha256", recipe.Source{URL: srv.URL + "/hello.tar", SHA256: "abc"}, `sha256 "abc" is not 64 hex digits`},
		{"bad scheme", recipe.Source{URL: "ftp://x/y.tar", SHA256: other}, `scheme "ftp" is not http, https or file`},
		{"relative file url", recipe.Source{URL: "file:y.tar", SHA256: other}, "a file URL needs an absolute path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fetchCase(t, &recipe.Recipe{Name: "x", File: "recipes/x.toml", Source: tc.src}, tc.want)
		})
	}
}

func TestMismatchErrorIs(t *testing.T) {
	body := []byte("data")
	srv := newServer(t, map[string][]byte{"/f": body})
	c, _ := newTestCache(t)
	_, err := c.Fetch(bg, &recipe.Recipe{File: "r.toml", Source: recipe.Source{URL: srv.URL + "/f", SHA256: strings.Repeat("a", 64)}})
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("err = %v, want a *MismatchError", err)
	}
	if me.Got != "sha256:"+sha(body) || me.Want != "sha256:"+strings.Repeat("a", 64) || me.Recipe != "r.toml" {
		t.Errorf("MismatchError = %+v", me)
	}
}

func TestConcurrentFetchSameSource(t *testing.T) {
	body := gzipBytes(t, tarBytes(t, helloTree))
	srv := newServer(t, map[string][]byte{"/a.tar.gz": body, "/b.tar": tarBytes(t, helloTree)})
	c, dir := newTestCache(t)
	ra := urlRecipe(srv.URL+"/a.tar.gz", body)
	rb := urlRecipe(srv.URL+"/b.tar", srv.files["/b.tar"])
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			r := ra
			if i%2 == 1 {
				r = rb
			}
			_, err := c.Fetch(bg, r)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("16 parallel fetches of 2 sources made %d requests, want 2", n)
	}
	if got := cacheEntries(t, dir); len(got) != 2 {
		t.Errorf("cache entries %q, want 2 trees and no leftovers", got)
	}
}
