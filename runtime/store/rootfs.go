package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
	"github.com/un-distro/undistro/runtime/unpack"
)

// Rootfs returns the root filesystem of the image digest, roots/HEX,
// assembling it on first use: each layer in order, bottom first, applies its
// opaque directories and whiteouts to what is below, then adds its entries
// as hardlinks to the shared read-only layer files (directories are created,
// not linked). The tree is built under a temporary name, synced and renamed,
// so roots/HEX is always complete.
func (s *Store) Rootfs(ctx context.Context, digest string) (string, error) {
	unlock, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	d, err := s.resolve(digest)
	if err != nil {
		return "", err
	}
	return s.rootfs(ctx, d)
}

func (s *Store) rootfs(ctx context.Context, digest string) (string, error) {
	r, err := s.readRecord(digest)
	if err != nil {
		return "", err
	}
	h, _ := hexOf(digest)
	final := s.path("roots", h)
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil
	}
	if err := s.begin(journal{Op: "rootfs", Target: digest}); err != nil {
		return "", err
	}
	tmp := tmpName(s.path("roots"), final)
	crash.Point("root.mkdir")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", tmp, err)
	}
	if err := s.assemble(ctx, r, filepath.Base(tmp)); err != nil {
		_ = removeAll(tmp)
		_ = s.end()
		return "", fmt.Errorf("assembling root of %s: %w", digest, err)
	}
	if err := atomicfile.PublishDir(tmp, final, atomicfile.Step("root")); err != nil {
		return "", fmt.Errorf("publishing root of %s: %w", digest, err)
	}
	return final, s.end()
}

type dirMode struct {
	mode     fs.FileMode
	uid, gid int
}

// assemble merges r's layers into roots/dst. All access goes through an
// os.Root on the store, so a symlink in a layer can never lead a write out
// of the store.
func (s *Store) assemble(ctx context.Context, r *record, dst string) error {
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return err
	}
	defer root.Close()
	m := &merger{root: root, dst: path.Join("roots", dst), dirs: map[string]dirMode{}, asRoot: os.Geteuid() == 0}
	for _, diffID := range r.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := s.layerStats(diffID)
		if err != nil {
			return err
		}
		h, _ := hexOf(diffID)
		crash.Point("root.layer")
		if err := m.apply(s.path("layers", h), path.Join("layers", h), st.Stats); err != nil {
			return fmt.Errorf("applying layer %s: %w", diffID, err)
		}
	}
	return m.finish()
}

type merger struct {
	root   *os.Root
	dst    string // relative to root
	dirs   map[string]dirMode
	asRoot bool
}

// realDir reports whether p (relative to the image root) and all its
// parents are real directories in the merged tree, not symlinks.
func (m *merger) realDir(p string) bool {
	if p == "." {
		return true
	}
	cur := m.dst
	for c := range strings.SplitSeq(p, "/") {
		cur = path.Join(cur, c)
		fi, err := m.root.Lstat(cur)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

func (m *merger) apply(hostDir, layerRel string, st unpack.Stats) error {
	for _, d := range st.Opaque {
		if !m.realDir(d) {
			continue
		}
		if err := m.clear(d); err != nil {
			return err
		}
	}
	for _, w := range st.Whiteouts {
		if m.realDir(path.Dir(w)) {
			if err := m.root.RemoveAll(path.Join(m.dst, w)); err != nil {
				return err
			}
		}
	}
	src, err := os.Open(hostDir)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := m.root.Open(m.dst)
	if err != nil {
		return err
	}
	defer dst.Close()
	return m.link(src, dst, ".")
}

// link adds the layer directory src (the tree's rel) to the merged
// directory dst: directories are created (replacing a non-directory),
// everything else is hardlinked (replacing whatever was there). It works on
// directory file descriptors and opens every directory with O_NOFOLLOW, so
// it never follows a symlink, and costs one fstatat and one linkat a file.
func (m *merger) link(src, dst *os.File, rel string) error {
	ents, err := src.ReadDir(-1)
	if err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, e := range ents {
		name := e.Name()
		var st unix.Stat_t
		err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		exists := err == nil
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("checking %s: %w", path.Join(rel, name), err)
		}
		isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !e.IsDir() {
			switch {
			case isDir:
				if err := m.root.RemoveAll(path.Join(m.dst, rel, name)); err != nil {
					return err
				}
			case exists:
				if err := unix.Unlinkat(dfd, name, 0); err != nil {
					return fmt.Errorf("replacing %s: %w", path.Join(rel, name), err)
				}
			}
			if err := unix.Linkat(sfd, name, dfd, name, 0); err != nil {
				return fmt.Errorf("linking %s: %w", path.Join(rel, name), err)
			}
			continue
		}
		if exists && !isDir {
			if err := unix.Unlinkat(dfd, name, 0); err != nil {
				return fmt.Errorf("replacing %s: %w", path.Join(rel, name), err)
			}
		}
		if !isDir {
			if err := unix.Mkdirat(dfd, name, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", path.Join(rel, name), err)
			}
		}
		if err := m.descend(src, dst, path.Join(rel, name), name); err != nil {
			return err
		}
	}
	return nil
}

func (m *merger) descend(src, dst *os.File, rel, name string) error {
	s, err := openDir(src, name)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := openDir(dst, name)
	if err != nil {
		return err
	}
	defer d.Close()
	fi, err := s.Stat()
	if err != nil {
		return err
	}
	o := owner(fi)
	m.dirs[path.Join(m.dst, rel)] = dirMode{mode: fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky), uid: o.uid, gid: o.gid}
	return m.link(s, d, rel)
}

func openDir(parent *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// finish applies directory modes and owners last, deepest first, so
// read-only directories did not stop later layers adding to them.
func (m *merger) finish() error {
	_, err := m.finishChanged()
	return err
}

// finishChanged is finish that returns the directories it changed.
func (m *merger) finishChanged() ([]string, error) {
	var changed []string
	names := make([]string, 0, len(m.dirs))
	for n := range m.dirs {
		names = append(names, n)
	}
	sortDeepestFirst(names)
	for _, n := range names {
		fi, err := m.root.Lstat(n)
		if err != nil || !fi.IsDir() {
			continue // removed or replaced by a later layer
		}
		dm := m.dirs[n]
		if fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky) == dm.mode && (!m.asRoot || owner(fi) == ids{dm.uid, dm.gid}) {
			continue // already so (a derived root keeps most directories)
		}
		changed = append(changed, n)
		if m.asRoot {
			if err := m.root.Lchown(n, dm.uid, dm.gid); err != nil {
				return changed, err
			}
		}
		if err := m.root.Chmod(n, dm.mode); err != nil {
			return changed, err
		}
	}
	return changed, nil
}
