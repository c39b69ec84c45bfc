package source

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

func TestNewCacheOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		name string
		dir  string
		opts []Option
		err  string
	}{
		{"defaults", "src", nil, ""},
		{"empty dir", "", nil, "source cache: empty directory name"},
		{"repo root missing", "src", []Option{WithRepoRoot(filepath.Join(t.TempDir(), "nope"))}, "is not a directory"},
		{"repo root a file", "src", []Option{WithRepoRoot(file)}, "is not a directory"},
		{"repo root empty", "src", []Option{WithRepoRoot("")}, "repository root: empty directory name"},
		{"gomodcache empty", "src", []Option{WithGoModCache("")}, "go module cache: empty directory name"},
		{"nil client", "src", []Option{WithHTTPClient(nil)}, "http client: nil"},
		{"all set", "src", []Option{WithRepoRoot(t.TempDir()), WithGoModCache(t.TempDir()), WithHTTPClient(&http.Client{})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			_, err := NewCache(dir, tc.opts...)
			testsupport.WantErr(t, err, tc.err)
		})
	}
}

func TestIdentity(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	commit := strings.Repeat("c", 40)
	cases := []struct {
		name string
		src  recipe.Source
		want string
		err  string
	}{
		{"url", recipe.Source{URL: "https://x.example/a.tar.gz", SHA256: strings.ToUpper(hex64)}, "sha256:" + hex64, ""},
		{"git", recipe.Source{Git: "https://x.example/r.git", Commit: commit}, "git:" + commit, ""},
		{"gomod", recipe.Source{GoMod: "example.com/m@v1.2.3", Sum: "h1:abc="}, "gomod:example.com/m@v1.2.3 h1:abc=", ""},
		{"deb", recipe.Source{Deb: "busybox-static", Version: "1:1.35", SHA256: hex64}, "sha256:" + hex64, ""},
		{"debsrc", recipe.Source{DebSrc: "hello", Version: "2.10-3"}, "debsrc:hello=2.10-3", ""},
		{"none", recipe.Source{}, "", "no source kind set; give one of url, git, gomod, deb, debsrc, path"},
		{"url no host", recipe.Source{URL: "https:///a", SHA256: hex64}, "", `url "https:///a" has no host`},
		{"gomod h2", recipe.Source{GoMod: "example.com/m@v1", Sum: "h2:x"}, "", `sum "h2:x" for example.com/m@v1 is not an h1: hash`},
		{"deb bad name", recipe.Source{Deb: "a b", Version: "1", SHA256: hex64}, "", `deb "a b" is not a Debian package name`},
		{"deb no sha", recipe.Source{Deb: "a", Version: "1"}, "", "deb a source has no sha256"},
		{"debsrc bad version", recipe.Source{DebSrc: "hello", Version: "1=2"}, "", `version "1=2" is not a Debian version`},
		{"git uppercase ok", recipe.Source{Git: "x", Commit: strings.ToUpper(commit)}, "git:" + commit, ""},
	}
	c, _ := newTestCache(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Identity(bg, &recipe.Recipe{File: "recipes/p.toml", Source: tc.src})
			testsupport.WantErr(t, err, tc.err)
			if err != nil && !strings.HasPrefix(err.Error(), "recipes/p.toml: source: bad source: ") {
				t.Errorf("error %q does not start with the recipe file and ErrBadSource", err)
			}
			if got != tc.want {
				t.Errorf("identity %q, want %q", got, tc.want)
			}
		})
	}
}

// Two processes sharing a cache race to fill the same entry: both fetch,
// one rename wins, the other's copy is discarded, nothing is left over.
func TestTwoCachesSameDir(t *testing.T) {
	body := tarBytes(t, helloTree)
	srv := newServer(t, map[string][]byte{"/h.tar": body})
	dir := filepath.Join(tempDir(t), "src")
	r := urlRecipe(srv.URL+"/h.tar", body)
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	for i := range dirs {
		wg.Go(func() {
			c, err := NewCache(dir)
			if err != nil {
				t.Error(err)
				return
			}
			f, err := c.Fetch(bg, r)
			if err != nil {
				t.Error(err)
				return
			}
			dirs[i] = f.Dir
		})
	}
	wg.Wait()
	for _, d := range dirs[1:] {
		if d != dirs[0] {
			t.Errorf("fetch dirs differ: %q", dirs)
		}
	}
	if got := cacheEntries(t, dir); len(got) != 1 {
		t.Errorf("cache entries %q, want one tree", got)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dirs[0]), "identity"))
	if err != nil || string(b) != "sha256:"+sha(body)+"\n" {
		t.Errorf("identity file = %q, %v", b, err)
	}
}

func TestNewCacheRemovesStaleScratch(t *testing.T) {
	dir := tempDir(t)
	stale, fresh := filepath.Join(dir, ".tmp-old"), filepath.Join(dir, ".tmp-new")
	for _, d := range []string{stale, fresh} {
		os.MkdirAll(filepath.Join(d, "tree"), 0o755)
	}
	old := time.Now().Add(-2 * staleAge)
	os.Chtimes(stale, old, old)
	if _, err := NewCache(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale scratch kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh scratch (maybe in use) removed: %v", err)
	}
}
