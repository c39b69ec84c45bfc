package source

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// writeTree creates files under root: name → content; a content starting
// with "->" makes a symlink, names ending in ".sh" are executable.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case len(body) > 2 && body[:2] == "->":
			err = os.Symlink(body[2:], p)
		case filepath.Ext(name) == ".sh":
			err = os.WriteFile(p, []byte(body), 0o755)
		default:
			err = os.WriteFile(p, []byte(body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

var appTree = map[string]string{
	"app/main.go":      "package main\n",
	"app/build.sh":     "#!/bin/sh\n",
	"app/lib/util.go":  "package lib\n",
	"app/lib/link.go":  "->util.go",
	"app/out/big.bin":  "build output",
	"app/.git/HEAD":    "ref: refs/heads/main\n",
	"other/secret.txt": "not part of app",
}

func pathIdentity(t *testing.T, repo string, src recipe.Source) string {
	t.Helper()
	c, _ := newTestCache(t, WithRepoRoot(repo))
	id, err := c.Identity(bg, &recipe.Recipe{Name: "app", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPathIdentity(t *testing.T) {
	src := recipe.Source{Path: "app", Exclude: []string{"app/out"}}
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, appTree)
	writeTree(t, b, appTree)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(b, "app", "main.go"), old, old)
	base := pathIdentity(t, a, src)
	if got := pathIdentity(t, b, src); got != base {
		t.Fatalf("same tree in another directory with other mtimes: identity %s, want %s", got, base)
	}
	cases := []struct {
		name   string
		change func(t *testing.T, root string)
		same   bool
	}{
		{"content change", func(t *testing.T, r string) { writeTree(t, r, map[string]string{"app/main.go": "package main // x\n"}) }, false},
		{"new file", func(t *testing.T, r string) { writeTree(t, r, map[string]string{"app/new.go": ""}) }, false},
		{"exec bit", func(t *testing.T, r string) { os.Chmod(filepath.Join(r, "app", "main.go"), 0o755) }, false},
		{"symlink target", func(t *testing.T, r string) {
			os.Remove(filepath.Join(r, "app", "lib", "link.go"))
			os.Symlink("other.go", filepath.Join(r, "app", "lib", "link.go"))
		}, false},
		{"rename", func(t *testing.T, r string) {
			os.Rename(filepath.Join(r, "app", "main.go"), filepath.Join(r, "app", "main2.go"))
		}, false},
		{"excluded dir changes", func(t *testing.T, r string) { writeTree(t, r, map[string]string{"app/out/big.bin": "other"}) }, true},
		{".git changes", func(t *testing.T, r string) { writeTree(t, r, map[string]string{"app/.git/HEAD": "x"}) }, true},
		{"outside the path", func(t *testing.T, r string) { writeTree(t, r, map[string]string{"other/secret.txt": "x"}) }, true},
		{"read-only mode", func(t *testing.T, r string) { os.Chmod(filepath.Join(r, "app", "main.go"), 0o444) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := t.TempDir()
			writeTree(t, r, appTree)
			tc.change(t, r)
			if got := pathIdentity(t, r, src); (got == base) != tc.same {
				t.Errorf("identity %s vs base %s: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
}

func TestPathGitListing(t *testing.T) {
	repo, _ := gitRepo(t) // skips without git
	writeTree(t, repo, map[string]string{".gitignore": "bin/\n", "bin/tool": "built", "new.txt": "untracked"})
	src := recipe.Source{Path: "."}
	c, _ := newTestCache(t, WithRepoRoot(repo))
	f, err := c.Fetch(bg, &recipe.Recipe{Name: "self", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"f .gitignore bin/\n", "f a.txt two\n", "f new.txt untracked", "f run.sh #!/bin/sh\n"}
	if got := listTree(t, f.Dir); !slices.Equal(got, want) {
		t.Errorf("tree = %q, want %q (ignored bin/ and .git left out)", got, want)
	}
	if f.Location != "path:." {
		t.Errorf("location %q", f.Location)
	}
	// Ignored files do not enter the identity.
	writeTree(t, repo, map[string]string{"bin/tool": "rebuilt"})
	if id := pathIdentity(t, repo, src); id != f.Identity {
		t.Errorf("identity changed with an ignored file: %s vs %s", id, f.Identity)
	}
	// A subdirectory of a work tree lists names relative to itself.
	writeTree(t, repo, map[string]string{"sub/x.txt": "x", "sub/bin/y": "ignored", "sub/drop/z": "excluded"})
	fs, err := c.Fetch(bg, &recipe.Recipe{Name: "sub", Source: recipe.Source{Path: "sub", Exclude: []string{"sub/drop"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, fs.Dir); !slices.Equal(got, []string{"f x.txt x"}) {
		t.Errorf("sub tree = %q", got)
	}
}

func TestPathFetch(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, appTree)
	outside := t.TempDir()
	os.Mkdir(filepath.Join(outside, "sub"), 0o755)
	writeTree(t, repo, map[string]string{"escape": "->" + outside, "app2/bad": "->../../etc/passwd"})
	cases := []struct {
		name string
		src  recipe.Source
		want []string
		err  string
	}{
		{"with exclude", recipe.Source{Path: "app", Exclude: []string{"app/out"}},
			[]string{"d lib", "f build.sh #!/bin/sh\n", "f lib/util.go package lib\n", "f main.go package main\n", "l lib/link.go -> util.go"}, ""},
		{"exclude a file", recipe.Source{Path: "./app/", Exclude: []string{"app/out", "app/lib/util.go", "other"}},
			[]string{"d lib", "f build.sh #!/bin/sh\n", "f main.go package main\n", "l lib/link.go -> util.go"}, ""},
		{"dotdot escape", recipe.Source{Path: "../x"}, nil, `path leaves the repository: path "../x" is outside the repository`},
		{"absolute path", recipe.Source{Path: "/etc"}, nil, `path leaves the repository: path "/etc" is absolute`},
		{"symlink escape", recipe.Source{Path: "escape"}, nil, "resolves through a symlink to"},
		{"symlinked parent escape", recipe.Source{Path: "escape/sub"}, nil, "resolves through a symlink to " + outside + "/sub, outside the repository"},
		{"symlink inside points out", recipe.Source{Path: "app2"}, nil, "symlink bad -> ../../etc/passwd points outside the source directory"},
		{"not a directory", recipe.Source{Path: "app/main.go"}, nil, `path source "app/main.go" is not a directory`},
		{"absolute exclude", recipe.Source{Path: "app", Exclude: []string{"/app/out"}}, nil, `exclude "/app/out" must be a path relative`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, dir := newTestCache(t, WithRepoRoot(repo))
			f, err := c.Fetch(bg, &recipe.Recipe{Name: "app", Source: tc.src})
			testsupport.WantErr(t, err, tc.err)
			if tc.err != "" {
				if got := cacheEntries(t, dir); len(got) != 0 {
					t.Errorf("cache holds %q after a failed fetch", got)
				}
				return
			}
			if got := listTree(t, f.Dir); !slices.Equal(got, tc.want) {
				t.Errorf("tree = %q\nwant %q", got, tc.want)
			}
			id, err := c.Identity(bg, &recipe.Recipe{Source: tc.src})
			if err != nil || id != f.Identity {
				t.Errorf("Identity = %s, %v; Fetch said %s", id, err, f.Identity)
			}
		})
	}
}

func TestPathEscapeIsErrEscape(t *testing.T) {
	c, _ := newTestCache(t, WithRepoRoot(t.TempDir()))
	_, err := c.Identity(bg, &recipe.Recipe{File: "recipes/x.toml", Source: recipe.Source{Path: "../../etc"}})
	if !errors.Is(err, ErrEscape) {
		t.Fatalf("err = %v, want ErrEscape", err)
	}
	testsupport.WantErr(t, err, `recipes/x.toml: source: path leaves the repository: path "../../etc" is outside the repository`)
}

func BenchmarkPathIdentityRepo(b *testing.B) {
	testsupport.RequireTool(b, "git", "apt-get install git")
	c, err := NewCache(b.TempDir(), WithRepoRoot("../.."))
	if err != nil {
		b.Fatal(err)
	}
	r := &recipe.Recipe{Source: recipe.Source{Path: "."}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Identity(bg, r); err != nil {
			b.Fatal(err)
		}
	}
}
