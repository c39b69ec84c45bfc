package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// These tests reach the Go module proxy and Debian's mirrors through the
// machine's own configuration; they are skipped under -short.

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	testsupport.SkipShort(t, "reaches the network")
	for _, tool := range tools {
		testsupport.RequireTool(t, tool, "make deps installs it")
	}
}

func TestGoModFetch(t *testing.T) {
	needTools(t, "go")
	modCache := tempDir(t)
	const mod = "golang.org/x/term@v0.47.0" // in this module's go.sum
	const sum = "h1:cpyOwQkr2Nzxe2p6KnrTG7Ei2wtzjsuSjhpXXepZ/BM="
	const wrong = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	cases := []struct {
		name string
		src  recipe.Source
		err  string
	}{
		{"right sum", recipe.Source{GoMod: mod, Sum: sum}, ""},
		{"wrong sum", recipe.Source{GoMod: mod, Sum: wrong},
			"checksum mismatch for " + mod + ": recipe says " + wrong + ", downloaded " + sum + "; fix the sum in recipes/term.toml if the new file is trusted"},
		{"no such version", recipe.Source{GoMod: "golang.org/x/term@v0.0.999", Sum: sum}, "downloading Go module golang.org/x/term@v0.0.999"},
		{"not module@version", recipe.Source{GoMod: "golang.org/x/term", Sum: sum}, `gomod "golang.org/x/term" is not module@version`},
		{"sum missing", recipe.Source{GoMod: mod}, "has no sum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, dir := newTestCache(t, WithGoModCache(modCache))
			f, err := c.Fetch(bg, &recipe.Recipe{Name: "term", File: "recipes/term.toml", Source: tc.src})
			testsupport.WantErr(t, err, tc.err)
			if tc.err != "" {
				if tc.name == "wrong sum" && !errors.Is(err, ErrChecksumMismatch) {
					t.Errorf("err %v is not ErrChecksumMismatch", err)
				}
				if got := cacheEntries(t, dir); len(got) != 0 {
					t.Errorf("cache holds %q after a failed fetch", got)
				}
				return
			}
			if f.GoModCache != modCache || f.Location != "pkg:golang/"+mod || f.Identity != "gomod:"+mod+" "+sum {
				t.Errorf("fetched = %+v", f)
			}
			orig, _ := os.ReadFile(filepath.Join(modCache, "golang.org", "x", "term@v0.47.0", "go.sum"))
			copied, err := os.ReadFile(filepath.Join(f.Dir, "go.sum"))
			if err != nil || string(copied) != string(orig) {
				t.Errorf("go.sum in the tree differs from the verified module's (err %v)", err)
			}
			// The dependency the module builds with is in the module cache.
			dep := filepath.Join(modCache, "cache", "download", "golang.org", "x", "sys", "@v", "v0.49.0.zip")
			if _, err := os.Stat(dep); err != nil {
				t.Errorf("dependency not downloaded: %v", err)
			}
			// After go clean -modcache, a cache hit downloads the
			// dependencies again.
			if err := removeTree(modCache); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Fetch(bg, &recipe.Recipe{Name: "term", Source: tc.src}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dep); err != nil {
				t.Errorf("dependency not downloaded again after the module cache was cleaned: %v", err)
			}
		})
	}
}

func TestDebFetch(t *testing.T) {
	needTools(t, "apt-get", "dpkg-deb")
	const ver = "1:1.35.0-4+deb12u1+b1"
	const sum = "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"
	wrong := strings.Repeat("1", 64)
	cases := []struct {
		name string
		src  recipe.Source
		err  string
	}{
		{"right sha256", recipe.Source{Deb: "busybox-static", Version: ver, SHA256: sum}, ""},
		{"wrong sha256", recipe.Source{Deb: "busybox-static", Version: ver, SHA256: wrong},
			"checksum mismatch for deb:busybox-static=" + ver + ": recipe says sha256:" + wrong + ", downloaded sha256:" + sum},
		{"unknown package", recipe.Source{Deb: "undistro-no-such-package", Version: "1.0", SHA256: wrong}, "run apt-get update"},
		{"missing version", recipe.Source{Deb: "busybox-static", SHA256: sum}, `deb "busybox-static" has no version`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fetchCase(t, &recipe.Recipe{Name: "busybox", Source: tc.src}, tc.err)
			if f == nil {
				return
			}
			fi, err := os.Stat(filepath.Join(f.Dir, "bin", "busybox"))
			if err != nil || fi.Mode().Perm() != 0o555 {
				t.Errorf("bin/busybox: %v, %v", fi, err)
			}
			if f.Location != "deb:busybox-static="+ver {
				t.Errorf("location %q", f.Location)
			}
		})
	}
}

func TestDebSrcFetch(t *testing.T) {
	needTools(t, "apt-get", "dpkg-source")
	c, dir := newTestCache(t)
	r := &recipe.Recipe{Name: "hello", Source: recipe.Source{DebSrc: "hello", Version: "2.10-3"}}
	f, err := c.Fetch(bg, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"configure", "src/hello.c", "debian/control"} {
		if _, err := os.Stat(filepath.Join(f.Dir, name)); err != nil {
			t.Errorf("unpacked source lacks %s: %v", name, err)
		}
	}
	if f.Identity != "debsrc:hello=2.10-3" || f.Location != "debsrc:hello=2.10-3" {
		t.Errorf("fetched = %+v", f)
	}
	list, err := os.ReadFile(filepath.Join(dir, "apt", "sources.list"))
	if err != nil || !strings.Contains(string(list), "deb-src ") {
		t.Errorf("private sources.list = %q, %v", list, err)
	}
	_, err = c.Fetch(bg, &recipe.Recipe{Name: "nope", Source: recipe.Source{DebSrc: "hello", Version: "0.0-undistro"}})
	testsupport.WantErr(t, err, "apt-get source hello=0.0-undistro")
}
