package gitrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Repo is a git work tree (or bare repository) at Dir.
type Repo struct{ Dir string }

// ErrUnknownRevision is returned when a revision does not resolve to a
// commit.
var ErrUnknownRevision = errors.New("unknown revision")

func (r Repo) git(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.Dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running git %s in %s: %w: %s", strings.Join(args, " "), r.Dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Commit resolves rev to a full commit id. A revision that does not
// resolve is an [ErrUnknownRevision] naming it.
func (r Repo) Commit(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%w %q: give a commit, branch or tag", ErrUnknownRevision, rev)
	}
	out, err := r.git(ctx, nil, "rev-parse", "--verify", "-q", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w %q in %s: is it fetched? (CI checkouts need fetch-depth: 0)", ErrUnknownRevision, rev, r.Dir)
	}
	return strings.TrimSpace(string(out)), nil
}

// Changed lists the files that differ between the commits base and head,
// slash-separated and relative to the repository root, sorted. A renamed
// file appears under its old and its new name.
func (r Repo) Changed(ctx context.Context, base, head string) ([]string, error) {
	out, err := r.git(ctx, nil, "diff", "--name-only", "--no-renames", "-z", base, head, "--")
	if err != nil {
		return nil, fmt.Errorf("listing changes %s..%s: %w", base, head, err)
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files, nil
}

// Dirty lists the paths `git status --porcelain` reports: modified,
// staged or untracked (not ignored) files of the work tree.
func (r Repo) Dirty(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, nil, "status", "--porcelain", "-z")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 3 {
			files = append(files, string(f[3:]))
		}
	}
	return files, nil
}

// Skeleton creates under dst every directory of commit, empty: enough for
// path sources to resolve without copying the repository.
func (r Repo) Skeleton(ctx context.Context, commit, dst string) error {
	out, err := r.git(ctx, nil, "ls-tree", "-r", "-d", "-z", "--name-only", "--full-tree", commit)
	if err != nil {
		return fmt.Errorf("listing directories at %s: %w", commit, err)
	}
	for _, n := range bytes.Split(out, []byte{0}) {
		name := string(n)
		if name == "" {
			continue
		}
		if clean := path.Clean(name); clean != name || path.IsAbs(name) || strings.HasPrefix(name, "../") || name == ".." {
			return fmt.Errorf("commit %s holds an unsafe path %q", commit, name)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.FromSlash(name)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Export writes the files under dirs (repository-relative) as they are in
// commit into dst, which must exist. A directory missing at commit is
// skipped. Symbolic links are recreated when they stay inside dst;
// submodules are skipped.
func (r Repo) Export(ctx context.Context, commit, dst string, dirs ...string) error {
	out, err := r.git(ctx, nil, append([]string{"ls-tree", "-r", "-z", "--full-tree", commit, "--"}, dirs...)...)
	if err != nil {
		return fmt.Errorf("listing %v at %s: %w", dirs, commit, err)
	}
	type entry struct{ mode, object, name string }
	var ents []entry
	var batch strings.Builder
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, name, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 {
			return fmt.Errorf("reading git ls-tree output: unexpected record %q", rec)
		}
		if f[1] != "blob" {
			continue // a submodule
		}
		if clean := path.Clean(name); clean != name || path.IsAbs(name) || strings.HasPrefix(name, "../") {
			return fmt.Errorf("commit %s holds an unsafe path %q", commit, name)
		}
		ents = append(ents, entry{mode: f[0], object: f[2], name: name})
		batch.WriteString(f[2] + "\n")
	}
	if len(ents) == 0 {
		return nil
	}
	blobs, err := r.git(ctx, strings.NewReader(batch.String()), "cat-file", "--batch")
	if err != nil {
		return fmt.Errorf("reading files of %s: %w", commit, err)
	}
	br := bufio.NewReader(bytes.NewReader(blobs))
	for _, e := range ents {
		hdr, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading %s at %s: %w", e.name, commit, err)
		}
		f := strings.Fields(hdr)
		if len(f) != 3 || f[0] != e.object {
			return fmt.Errorf("reading %s at %s: unexpected git cat-file header %q", e.name, commit, hdr)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("reading %s at %s: bad size in %q", e.name, commit, hdr)
		}
		body := make([]byte, n+1) // content and the trailing newline
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("reading %s at %s: %w", e.name, commit, err)
		}
		body = body[:n]
		full := filepath.Join(dst, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		switch e.mode {
		case "120000":
			target := string(body)
			if j := path.Join(path.Dir(e.name), target); path.IsAbs(target) || j == ".." || strings.HasPrefix(j, "../") {
				return fmt.Errorf("commit %s: symlink %s -> %s points outside the repository", commit, e.name, target)
			}
			err = os.Symlink(target, full)
		case "100755":
			err = os.WriteFile(full, body, 0o755)
		default:
			err = os.WriteFile(full, body, 0o644)
		}
		if err != nil {
			return fmt.Errorf("exporting %s: %w", e.name, err)
		}
	}
	return nil
}
