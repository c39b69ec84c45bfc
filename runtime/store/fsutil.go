package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
)

// tmpName returns a fresh temporary name in dir for final; sweep removes
// it after a crash.
func tmpName(dir, final string) string { return atomicfile.TempName(dir, final) }

// writeFile writes data to path atomically (temp file, fsync, rename,
// directory fsync); what names its crash points.
func writeFile(path string, data []byte, what string) error {
	return atomicfile.WriteFile(path, data, 0o644, atomicfile.Step(what))
}

// syncDir fsyncs a directory so the renames in it are durable.
func syncDir(dir, what string) error { return atomicfile.SyncDir(dir, atomicfile.Step(what)) }

// removeTree removes a published tree: first renamed to a temporary name
// (so it never looks complete while half removed), then deleted.
func removeTree(path, what string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tmp := tmpName(filepath.Dir(path), path)
	crash.Point(what + ".unpublish")
	if err := os.Rename(path, tmp); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	crash.Point(what + ".remove")
	return removeAll(tmp)
}

// removeAll is os.RemoveAll that first makes directories writable, since
// layers may hold read-only directories and we may not be root.
func removeAll(path string) error {
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// sweep removes every temporary leftover in dir.
func sweep(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) {
			if err := removeAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// makeReadOnly clears the write bits of every regular file under dir.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&0o222 == 0 {
			return nil
		}
		return os.Chmod(p, fi.Mode()&^0o222)
	})
}
