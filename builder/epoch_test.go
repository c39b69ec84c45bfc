package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestEpochsPinnedAtStart: a commit made while a build runs (an engineer
// committing in the work tree the build reads) changes neither the
// revision and origin the images are labelled with nor the commit times
// that give the inputs' epochs; both are those of HEAD when the build
// started. The revision used to be read when the images were assembled,
// minutes later, so such a commit changed the image digest.
func TestEpochsPinnedAtStart(t *testing.T) {
	testsupport.RequireTool(t, "git", "make deps installs it")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	ctx := context.Background()
	repo := t.TempDir()
	commit := func(file, date string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, file), []byte(date), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"add", file}, {"commit", "-q", "-m", date}, {"rev-parse", "HEAD"}} {
			cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE="+date+" +0000", "GIT_AUTHOR_DATE="+date+" +0000")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			if args[0] == "rev-parse" {
				return strings.TrimSpace(string(out))
			}
		}
		return ""
	}
	if out, err := exec.Command("git", "-C", repo, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if out, err := exec.Command("git", "-C", repo, "config", "remote.origin.url", "https://example.com/a.git").CombinedOutput(); err != nil {
		t.Fatalf("git config: %v\n%s", err, out)
	}
	first := commit("recipe.toml", "1700000000")

	ep, err := newEpochs(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	// The build runs; meanwhile the work tree gets a commit and a new origin.
	second := commit("recipe.toml", "1800000000")
	if out, err := exec.Command("git", "-C", repo, "config", "remote.origin.url", "https://example.com/b.git").CombinedOutput(); err != nil {
		t.Fatalf("git config: %v\n%s", err, out)
	}
	if first == second {
		t.Fatal("the second commit did not move HEAD")
	}

	for _, tc := range []struct {
		name      string
		pathspecs []string
		want      int64
	}{
		{"the recipe", []string{"recipe.toml"}, 1700000000},
		{"the whole tree", []string{"."}, 1700000000},
		{"a path no commit touched", []string{"absent"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ep.of(ctx, tc.pathspecs...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("epoch of %v = %d, want %d (the commit the build started from)", tc.pathspecs, got, tc.want)
			}
		})
	}
	if rev, url := ep.commit(); rev != first || url != "https://example.com/a.git" {
		t.Errorf("label revision %s of %s, want %s of https://example.com/a.git (HEAD when the build started)", rev, url, first)
	}
	// A build started now sees the new commit.
	ep2, err := newEpochs(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := ep2.commit(); rev != second {
		t.Errorf("a later build labels %s, want %s", rev, second)
	}
}
