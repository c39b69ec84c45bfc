package source

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The source cache keeps every tree read-only, so no build can change the
// copy another build starts from.

// seal makes the tree read-only: directories 0555, files 0444, or 0555
// when any execute bit was set. Setuid, setgid and sticky bits are dropped.
// Anything but directories, regular files and symlinks is refused.
func seal(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t.IsDir():
			dirs = append(dirs, p)
			return nil
		case t&fs.ModeSymlink != 0:
			return nil
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o444)
			if fi.Mode()&0o111 != 0 {
				mode = 0o555
			}
			if fi.Mode().Perm() == mode && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
				return nil
			}
			return os.Chmod(p, mode)
		default:
			rel, _ := filepath.Rel(root, p)
			return fmt.Errorf("%w: %s is a %s, not a file, directory or symlink", ErrUnsafeArchive, rel, t.Type())
		}
	})
	if err != nil {
		return fmt.Errorf("sealing source tree: %w", err)
	}
	// Children first, so a parent never turns read-only under a walk.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return fmt.Errorf("sealing source tree: %w", err)
		}
	}
	return nil
}

// removeTree removes p even when it holds read-only directories.
func removeTree(p string) error {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}
