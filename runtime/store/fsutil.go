package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/runtime/internal/crash"
)

const tmpPrefix = ".tmp-"

// tmpName returns a fresh temporary name in dir for final.
func tmpName(dir, final string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(dir, tmpPrefix+filepath.Base(final)+"-"+hex.EncodeToString(b[:]))
}

// writeFile writes data to path atomically: temp file in the same
// directory, fsync, rename, fsync of the directory.
func writeFile(path string, data []byte, what string) error {
	dir := filepath.Dir(path)
	tmp := tmpName(dir, path)
	crash.Point(what + ".create")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	crash.Point(what + ".write")
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	crash.Point(what + ".fsync")
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	crash.Point(what + ".rename")
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return syncDir(dir, what)
}

// syncDir fsyncs a directory so the renames in it are durable.
func syncDir(dir, what string) error {
	crash.Point(what + ".dirsync")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// syncFS flushes the whole filesystem holding dir (syncfs(2)): one call
// instead of one fsync per file of an unpacked tree.
func syncFS(dir, what string) error {
	crash.Point(what + ".syncfs")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncing filesystem of %s: %w", dir, err)
	}
	return nil
}

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
		if strings.HasPrefix(e.Name(), tmpPrefix) {
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
