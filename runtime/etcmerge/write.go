package etcmerge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/un-distro/undistro/internal/atomicfile"
)

var syscallENOTDIR = syscall.ENOTDIR

// install writes it at dst, under top, atomically. Every directory between
// top and dst must be a real directory (created 0755 when missing), so a
// symlink planted in the tree cannot lead the write elsewhere.
func install(top, dst string, it Item, step string) error {
	if err := realParents(top, dst, step); err != nil {
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory where the image has a file: move it aside", dst)
	}
	if it.Link {
		return atomicfile.Symlink(string(it.Data), dst, atomicfile.Step(step))
	}
	if err := atomicfile.WriteFile(dst, it.Data, fs.FileMode(it.Mode).Perm(), atomicfile.Step(step)); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(dst, it.UID, it.GID); err != nil {
			return err
		}
	}
	return nil
}

// realParents makes every directory between top and dst's parent exist
// as a real directory (created 0755 when missing), refusing a symlink or
// other file there.
func realParents(top, dst, step string) error {
	rel, err := filepath.Rel(top, filepath.Dir(dst))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is not under %s", dst, top)
	}
	if err := os.MkdirAll(top, 0o755); err != nil {
		return err
	}
	cur := top
	if rel != "." {
		for c := range strings.SplitSeq(rel, string(filepath.Separator)) {
			cur = filepath.Join(cur, c)
			fi, err := os.Lstat(cur)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if err := os.Mkdir(cur, 0o755); err != nil {
					return err
				}
				if err := atomicfile.SyncDir(filepath.Dir(cur), atomicfile.Step(step)); err != nil {
					return err
				}
			case err != nil:
				return err
			case !fi.IsDir():
				return fmt.Errorf("%s is not a directory (%s): move it aside", cur, fi.Mode().Type())
			}
		}
	}
	return nil
}

// mkdir creates the directory dst under top (parents as install does)
// with d's mode and owner, unless it exists; an existing non-directory is
// an error.
func mkdir(top, dst string, d Entry) error {
	fi, err := os.Lstat(dst)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s is not a directory (%s): move it aside", dst, fi.Mode().Type())
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// Parents: through install's checks, with a placeholder name.
	if err := realParents(top, dst, "etc.dir"); err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(dst, d.UID, d.GID); err != nil {
			return err
		}
	}
	if err := os.Chmod(dst, fs.FileMode(d.Mode).Perm()); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dst), atomicfile.Step("etc.dir"))
}
