package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// GitFetcher fetches one commit of a git repository (any URL git accepts)
// and keeps its work tree without .git.
type GitFetcher struct{}

var _ Fetcher = (*GitFetcher)(nil)

// Fetch fetches s.Commit from s.Git (shallow first, the whole repository
// when the server refuses a fetch by hash), checks it out into dst and
// checks that HEAD is that commit.
func (g *GitFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	id, err := gitIdentity(s)
	if err != nil {
		return "", err
	}
	if err := need("git", "git"); err != nil {
		return "", err
	}
	commit := strings.TrimPrefix(id, "git:")
	env := append(environWithout("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=undistro", "GIT_AUTHOR_EMAIL=undistro@localhost",
		"GIT_COMMITTER_NAME=undistro", "GIT_COMMITTER_EMAIL=undistro@localhost")
	git := func(args ...string) error {
		_, err := run(ctx, dst, env, "git", append([]string{"-c", "advice.detachedHead=false", "-c", "protocol.file.allow=always"}, args...)...)
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return "", fmt.Errorf("fetching git source: %w", err)
	}
	if err := git("init", "-q"); err != nil {
		return "", err
	}
	remote := s.Git
	if filepath.IsAbs(remote) {
		remote = "file://" + remote // --depth is ignored for plain local paths
	}
	if err := git("fetch", "-q", "--depth", "1", remote, commit); err != nil {
		// Servers that refuse unadvertised hashes: fetch every branch and tag.
		if err2 := git("fetch", "-q", remote, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err2 != nil {
			return "", fmt.Errorf("fetching commit %s from %s: %w (full fetch: %v)", commit, s.Git, err, err2)
		}
	}
	if err := git("checkout", "-q", "--detach", commit); err != nil {
		return "", fmt.Errorf("commit %s is not in %s: %w", commit, s.Git, err)
	}
	out, err := run(ctx, dst, env, "git", "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	if head := strings.TrimSpace(string(out)); head != commit {
		return "", fmt.Errorf("checked out %s from %s but HEAD is %s", commit, s.Git, head)
	}
	if err := os.RemoveAll(filepath.Join(dst, ".git")); err != nil {
		return "", fmt.Errorf("removing .git: %w", err)
	}
	return id, nil
}
