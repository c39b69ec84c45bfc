package source

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// gitRepo makes a repository with two commits and returns its path and
// the commits, oldest first.
func gitRepo(t *testing.T) (string, []string) {
	t.Helper()
	testsupport.RequireTool(t, "git", "apt-get install git")
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "one")
	c1 := git("rev-parse", "HEAD")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("two\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	git("add", ".")
	git("commit", "-q", "-m", "two")
	return dir, []string{c1, git("rev-parse", "HEAD")}
}

func TestGitFetch(t *testing.T) {
	repo, commits := gitRepo(t)
	cases := []struct {
		name   string
		src    recipe.Source
		want   []string
		errMsg string
	}{
		{"latest commit", recipe.Source{Git: repo, Commit: commits[1]}, []string{"f a.txt two\n", "f run.sh #!/bin/sh\n"}, ""},
		{"older commit by hash", recipe.Source{Git: repo, Commit: commits[0]}, []string{"f a.txt one\n"}, ""},
		{"file url", recipe.Source{Git: "file://" + repo, Commit: commits[0]}, []string{"f a.txt one\n"}, ""},
		{"unknown commit", recipe.Source{Git: repo, Commit: strings.Repeat("e", 40)}, nil, "commit " + strings.Repeat("e", 40) + " is not in " + repo},
		{"short commit", recipe.Source{Git: repo, Commit: commits[0][:12]}, nil, "is not a full 40-hex-digit commit hash"},
		{"missing commit", recipe.Source{Git: repo}, nil, "has no commit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, dir := newTestCache(t)
			f, err := c.Fetch(bg, &recipe.Recipe{Name: "g", Source: tc.src})
			testsupport.WantErr(t, err, tc.errMsg)
			if tc.errMsg != "" {
				if got := cacheEntries(t, dir); len(got) != 0 {
					t.Errorf("cache holds %q after a failed fetch", got)
				}
				return
			}
			if got := listTree(t, f.Dir); !slices.Equal(got, tc.want) {
				t.Errorf("tree = %q, want %q", got, tc.want)
			}
			if f.Identity != "git:"+tc.src.Commit || f.Location != "git+"+tc.src.Git+"@"+tc.src.Commit {
				t.Errorf("identity, location = %q, %q", f.Identity, f.Location)
			}
			// A second fetch is a cache hit: it runs no git, so it works
			// with the repository unreachable.
			gone := tc.src
			gone.Git = filepath.Join(t.TempDir(), "gone")
			f2, err := c.Fetch(bg, &recipe.Recipe{Name: "g", Source: gone})
			if err != nil || f2.Dir != f.Dir {
				t.Errorf("second fetch = %v, %v; want the cached %s", f2, err, f.Dir)
			}
		})
	}
}
