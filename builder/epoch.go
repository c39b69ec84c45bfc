package builder

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// epochs decides SOURCE_DATE_EPOCH for each input. With $SOURCE_DATE_EPOCH
// set it is used for everything. Otherwise each input gets the time of the
// last git commit that touched it, so an unchanged recipe keeps its epoch
// (and cache key) when other files change; outside a git work tree it is 0.
type epochs struct {
	repo  string
	fixed int64
	isSet bool
	git   bool
	memo  map[string]int64
	// rev and url are HEAD and the origin URL when the build started,
	// read once with the sources' listing: a commit made while packages
	// build must not label an image whose sources it did not give.
	rev, url string
}

func newEpochs(ctx context.Context, repo string) (*epochs, error) {
	e := &epochs{repo: repo, memo: map[string]int64{}}
	e.rev, e.url = readCommit(ctx, repo)
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a non-negative integer of seconds since 1970", v)
		}
		e.fixed, e.isSet = n, true
		return e, nil
	}
	e.git = e.rev != ""
	return e, nil
}

// of returns the epoch of the given repository-relative pathspecs
// (git pathspec syntax, so ":!dir" excludes).
func (e *epochs) of(ctx context.Context, pathspecs ...string) (int64, error) {
	if e.isSet {
		return e.fixed, nil
	}
	if !e.git {
		return 0, nil
	}
	k := strings.Join(pathspecs, "\x00")
	if v, ok := e.memo[k]; ok {
		return v, nil
	}
	// At the commit the build started from (see rev), not at whatever
	// HEAD is by the time a package is planned.
	args := []string{"-C", e.repo, "log", "-1", "--format=%ct"}
	if e.rev != "" {
		args = append(args, e.rev)
	}
	args = append(append(args, "--"), pathspecs...)
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return 0, fmt.Errorf("reading commit time of %v: %w", pathspecs, err)
	}
	s := strings.TrimSpace(string(out))
	var v int64
	if s != "" {
		if v, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("parsing commit time %q: %w", s, err)
		}
	}
	e.memo[k] = v
	return v, nil
}

// commit returns the HEAD commit and origin URL of the repository when
// the build started, for image labels and provenance ("" when not a git
// work tree).
func (e *epochs) commit() (rev, url string) { return e.rev, e.url }

func readCommit(ctx context.Context, repo string) (rev, url string) {
	if out, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--verify", "-q", "HEAD").Output(); err == nil {
		rev = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", repo, "config", "--get", "remote.origin.url").Output(); err == nil {
		url = strings.TrimSpace(string(out))
	}
	return rev, url
}
