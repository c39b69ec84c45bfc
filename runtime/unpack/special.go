package unpack

import (
	"archive/tar"
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// special creates a device node or fifo, only on a privileged path.
// The checker has refused it on a path not declared privileged.
func (u *unpacker) special(hdr *tar.Header, name string, mode fs.FileMode) error {
	what := map[byte]string{tar.TypeChar: "character device", tar.TypeBlock: "block device", tar.TypeFifo: "fifo"}[hdr.Typeflag]
	d, err := u.root.Open(path.Dir(name))
	if err != nil {
		return fmt.Errorf("opening directory of %s: %w", name, err)
	}
	defer d.Close()
	perm := uint32(mode.Perm())
	base := path.Base(name)
	switch hdr.Typeflag {
	case tar.TypeFifo:
		err = unix.Mkfifoat(int(d.Fd()), base, perm)
	case tar.TypeChar:
		err = unix.Mknodat(int(d.Fd()), base, unix.S_IFCHR|perm, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	case tar.TypeBlock:
		err = unix.Mknodat(int(d.Fd()), base, unix.S_IFBLK|perm, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	}
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", what, name, err)
	}
	u.seen[name] = kSpecial
	if err := u.root.Chmod(name, mode.Perm()); err != nil {
		return fmt.Errorf("setting mode of %s: %w", name, err)
	}
	if u.asRoot {
		if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("setting owner of %s: %w", name, err)
		}
	}
	u.st.Special++
	return nil
}

// finishDirs applies directory modes, owners and times last, deepest first,
// so a read-only directory does not stop its own contents being written and
// writing contents does not change a directory's time.
func (u *unpacker) finishDirs() error {
	dirs := make([]dirMeta, 0, len(u.dirs))
	for _, d := range u.dirs {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b dirMeta) int {
		return cmp.Or(cmp.Compare(strings.Count(b.name, "/"), strings.Count(a.name, "/")), strings.Compare(a.name, b.name))
	})
	for _, d := range dirs {
		if u.asRoot {
			if err := u.root.Lchown(d.name, d.uid, d.gid); err != nil {
				return fmt.Errorf("setting owner of %s: %w", d.name, err)
			}
		}
		if err := u.root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("setting mode of %s: %w", d.name, err)
		}
		if err := u.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("setting times of %s: %w", d.name, err)
		}
	}
	return nil
}
