package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// PathFetcher copies a directory of the repository. What it copies, and
// hashes into the identity, is every file and symlink under the directory
// except .git and the recipe's excludes; inside a git work tree, only the
// files `git ls-files -co --exclude-standard` lists (tracked, or untracked
// and not ignored).
type PathFetcher struct {
	// RepoRoot is the repository root; paths are relative to it and may
	// not leave it.
	RepoRoot string
}

var _ Fetcher = (*PathFetcher)(nil)

// treeEntry is one file or symlink of a path source.
type treeEntry struct {
	rel  string // slash-separated, relative to the source directory
	kind byte   // 'f' file, 'x' executable file, 'l' symlink
	link string // symlink target
}

// Identity returns "sha256:<hex>" over the sorted relative paths, kinds
// (file, executable file, symlink) and contents of the tree. Modification
// times and the tree's absolute location do not enter it.
func (p *PathFetcher) Identity(ctx context.Context, s recipe.Source) (string, error) {
	dir, ents, err := p.list(ctx, s)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range ents {
		fh := sha256.New()
		if e.kind == 'l' {
			io.WriteString(fh, e.link)
		} else if err := hashFile(filepath.Join(dir, filepath.FromSlash(e.rel)), fh); err != nil {
			return "", fmt.Errorf("hashing path source: %w", err)
		}
		writeTreeRecord(h, e, fh)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Fetch copies the tree into dst, hashing what it copies, and returns the
// identity of the copy.
func (p *PathFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	dir, ents, err := p.list(ctx, s)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return "", fmt.Errorf("copying path source: %w", err)
	}
	h := sha256.New()
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		to := filepath.Join(dst, filepath.FromSlash(e.rel))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return "", fmt.Errorf("copying path source: %w", err)
		}
		fh := sha256.New()
		switch e.kind {
		case 'l':
			io.WriteString(fh, e.link)
			err = os.Symlink(e.link, to)
		case 'x':
			err = copyFile(filepath.Join(dir, filepath.FromSlash(e.rel)), to, 0o755, fh)
		default:
			err = copyFile(filepath.Join(dir, filepath.FromSlash(e.rel)), to, 0o644, fh)
		}
		if err != nil {
			return "", fmt.Errorf("copying path source: %w", err)
		}
		writeTreeRecord(h, e, fh)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func writeTreeRecord(h io.Writer, e treeEntry, content hash.Hash) {
	fmt.Fprintf(h, "%c %s\x00%x\n", e.kind, e.rel, content.Sum(nil))
}

func hashFile(name string, h io.Writer) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

// Includes reports whether the host file would be part of the path
// source s (so a build would see it): the builder refuses to build with a
// signing key that would be.
func (p *PathFetcher) Includes(ctx context.Context, s recipe.Source, file string) (bool, error) {
	dir, ents, err := p.list(ctx, s)
	if err != nil {
		return false, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return false, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false, nil
	}
	rel = filepath.ToSlash(rel)
	i := sort.Search(len(ents), func(i int) bool { return ents[i].rel >= rel })
	return i < len(ents) && ents[i].rel == rel, nil
}

// dir resolves s.Path inside the repository, refusing escapes (also
// through symlinks), and returns it with its repository-relative form.
func (p *PathFetcher) dir(s recipe.Source) (abs, rel string, err error) {
	if p.RepoRoot == "" {
		return "", "", errors.New("path source: no repository root set")
	}
	if filepath.IsAbs(s.Path) {
		return "", "", fmt.Errorf("%w: path %q is absolute; give it relative to the repository root %s", ErrEscape, s.Path, p.RepoRoot)
	}
	root, err := filepath.EvalSymlinks(p.RepoRoot)
	if err != nil {
		return "", "", fmt.Errorf("resolving repository root: %w", err)
	}
	rel = filepath.Clean(s.Path)
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%w: path %q is outside the repository %s; use a directory inside it", ErrEscape, s.Path, root)
	}
	abs, err = filepath.EvalSymlinks(filepath.Join(root, rel))
	if err != nil {
		return "", "", fmt.Errorf("path source %q: %w", s.Path, err)
	}
	if r, err := filepath.Rel(root, abs); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%w: path %q resolves through a symlink to %s, outside the repository %s", ErrEscape, s.Path, abs, root)
	}
	if !isDir(abs) {
		return "", "", fmt.Errorf("path source %q is not a directory", s.Path)
	}
	return abs, filepath.ToSlash(rel), nil
}

// list returns the source directory and its entries, sorted by path.
func (p *PathFetcher) list(ctx context.Context, s recipe.Source) (string, []treeEntry, error) {
	dir, rel, err := p.dir(s)
	if err != nil {
		return "", nil, err
	}
	excl, err := excludes(rel, s.Exclude)
	if err != nil {
		return "", nil, err
	}
	names, err := gitFiles(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	if names == nil {
		if names, err = walkFiles(dir); err != nil {
			return "", nil, fmt.Errorf("listing path source %q: %w", s.Path, err)
		}
	}
	var ents []treeEntry
	for _, n := range names {
		if skipped(n, excl) {
			continue
		}
		e, ok, err := statEntry(dir, n)
		if err != nil {
			return "", nil, fmt.Errorf("path source %q: %w", s.Path, err)
		}
		if ok {
			ents = append(ents, e)
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	return dir, ents, nil
}

// excludes turns repository-relative excludes into paths relative to the
// source directory rel; excludes outside it are dropped.
func excludes(rel string, list []string) ([]string, error) {
	var out []string
	for _, ex := range list {
		if ex == "" || path.IsAbs(ex) {
			return nil, fmt.Errorf("%w: exclude %q must be a path relative to the repository root", ErrBadSource, ex)
		}
		ex = path.Clean(filepath.ToSlash(ex))
		switch {
		case rel == ".":
			out = append(out, ex)
		case ex == rel:
			out = append(out, ".")
		case strings.HasPrefix(ex, rel+"/"):
			out = append(out, strings.TrimPrefix(ex, rel+"/"))
		}
	}
	return out, nil
}

func skipped(name string, excl []string) bool {
	for _, el := range strings.Split(name, "/") {
		if el == ".git" {
			return true
		}
	}
	for _, ex := range excl {
		if ex == "." || name == ex || strings.HasPrefix(name, ex+"/") {
			return true
		}
	}
	return false
}

func statEntry(dir, name string) (treeEntry, bool, error) {
	full := filepath.Join(dir, filepath.FromSlash(name))
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return treeEntry{}, false, nil // tracked but deleted in the work tree
	}
	if err != nil {
		return treeEntry{}, false, err
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		return treeEntry{}, false, nil // a submodule: not part of this tree
	case m&fs.ModeSymlink != 0:
		t, err := os.Readlink(full)
		if err != nil {
			return treeEntry{}, false, err
		}
		if j := path.Join(path.Dir(name), t); path.IsAbs(t) || j == ".." || strings.HasPrefix(j, "../") {
			return treeEntry{}, false, fmt.Errorf("%w: symlink %s -> %s points outside the source directory; exclude it or make it relative and inside", ErrEscape, name, t)
		}
		return treeEntry{rel: name, kind: 'l', link: t}, true, nil
	case m.IsRegular():
		if m&0o111 != 0 {
			return treeEntry{rel: name, kind: 'x'}, true, nil
		}
		return treeEntry{rel: name, kind: 'f'}, true, nil
	default:
		return treeEntry{}, false, fmt.Errorf("%s is a %s, not a file, directory or symlink", name, m.Type())
	}
}

// gitFiles lists the files git would consider part of dir's work tree, or
// returns nil when dir is not inside a git work tree (or git is absent).
func gitFiles(ctx context.Context, dir string) ([]string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "ls-files", "-z", "-co", "--exclude-standard")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "not a git repository") {
			return nil, nil
		}
		return nil, fmt.Errorf("listing files with git ls-files in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	names := []string{}
	for _, n := range bytes.Split(out, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	return names, nil
}

// walkFiles lists every non-directory under dir, skipping .git.
func walkFiles(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	return names, err
}

// TreeDigest returns the content digest of a tree, computed as a path
// source's identity: for materials whose identity carries no checksum
// (Debian source packages), the digest of what was fetched and verified.
func TreeDigest(ctx context.Context, dir string) (string, error) {
	return (&PathFetcher{RepoRoot: dir}).Identity(ctx, recipe.Source{Path: "."})
}
