package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// copyRepo copies the work tree of the repository at src (without out/ and
// bin/) to a new directory with a git repository of its own whose HEAD,
// index and origin URL are src's at the time of the copy, so the builder's
// revision label and path-source listing see a snapshot.
//
// Copying .git as it is does not snapshot a linked work tree (git
// worktree add): its .git is a file naming the shared git directory, so
// the copy's HEAD is the live work tree's and moves with every commit made
// there while the tests run, which changes the image's
// org.opencontainers.image.revision label and so its digest.
func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "elsewhere", "repo")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := snapshotRepo(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// snapshotRepo does copyRepo's work: the files, then, when src is in a git
// work tree, a fresh .git borrowing src's objects (alternates) with HEAD
// detached at src's commit and the index of that commit.
func snapshotRepo(src, dst string) error {
	sh := func(dir, script string, args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", &copyError{script: script, out: string(out), err: err}
		}
		return strings.TrimSpace(string(out)), nil
	}
	// Read the commit first: a commit made during the copy then leaves
	// files newer than HEAD (a dirty tree), never a HEAD newer than them.
	rev, err := sh(src, `git rev-parse --verify -q HEAD || true`)
	if err != nil {
		return err
	}
	if _, err := sh(src, `mkdir "$1" && tar --exclude=./out --exclude=./bin --exclude=./.git -cf - . | tar -C "$1" -xf -`, dst); err != nil {
		return err
	}
	if rev == "" {
		return nil // not a git work tree: the builder uses epoch 0 and no label
	}
	common, err := sh(src, `git rev-parse --path-format=absolute --git-common-dir`)
	if err != nil {
		return err
	}
	url, _ := sh(src, `git config --get remote.origin.url || true`)
	_, err = sh(dst, `git init -q &&
echo "$1/objects" > .git/objects/info/alternates &&
if [ -f "$1/info/exclude" ]; then cp "$1/info/exclude" .git/info/exclude; fi &&
git update-ref --no-deref HEAD "$2" &&
git read-tree HEAD &&
if [ -n "$3" ]; then git config remote.origin.url "$3"; fi`, common, rev, url)
	return err
}

type copyError struct {
	script, out string
	err         error
}

func (e *copyError) Error() string {
	return "copying repository (" + e.script + "): " + e.err.Error() + "\n" + e.out
}

func (e *copyError) Unwrap() error { return e.err }

// TestCopyRepoSnapshotsHEAD: a commit in the original after the copy (as an
// engineer's commit in their work tree while the end-to-end tests run)
// changes neither the copy's HEAD nor what it lists, for a main checkout
// and for a linked work tree.
func TestCopyRepoSnapshotsHEAD(t *testing.T) {
	testsupport.RequireTool(t, "git", "make deps installs it")
	root := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	mainDir := filepath.Join(root, "main")
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	git(mainDir, "init", "-q", "-b", "main")
	git(mainDir, "config", "remote.origin.url", "https://example.com/undistro.git")
	write := func(dir, name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(mainDir, ".gitignore", "ignored\n")
	write(mainDir, "a.go", "package a\n")
	git(mainDir, "add", ".")
	git(mainDir, "commit", "-q", "-m", "one")
	wt := filepath.Join(root, "wt")
	git(mainDir, "worktree", "add", "-q", "-b", "topic", wt)
	for _, tc := range []struct{ name, src string }{{"main checkout", mainDir}, {"linked work tree", wt}} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.src, "untracked.go", "package a\n")
			write(tc.src, "ignored", "x\n")
			before := git(tc.src, "rev-parse", "HEAD")
			dst := copyRepo(t, tc.src)
			write(tc.src, "b.go", "package b\n")
			git(tc.src, "add", "b.go")
			git(tc.src, "commit", "-q", "-m", "two")
			if got := git(dst, "rev-parse", "HEAD"); got != before {
				t.Errorf("copy's HEAD moved with the original's: %s, copied at %s", got, before)
			}
			if got, want := sortedLines(git(dst, "ls-files", "-co", "--exclude-standard")), ".gitignore\na.go\nuntracked.go"; got != want {
				t.Errorf("copy lists %q, want %q", got, want)
			}
			if got := git(dst, "config", "--get", "remote.origin.url"); got != "https://example.com/undistro.git" {
				t.Errorf("copy's origin %q", got)
			}
			// A copy of the copy (the determinism check) is the same snapshot.
			if got := git(copyRepo(t, dst), "rev-parse", "HEAD"); got != before {
				t.Errorf("copy of the copy at %s, want %s", got, before)
			}
		})
	}
}

func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}
