package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteFile writes data to path with mode (applied exactly, regardless of
// the umask). See WriteFrom.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	return WriteFrom(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom writes the content fill produces to path with mode (applied
// exactly, regardless of the umask): into a temp file in the same
// directory, which is fsynced, closed, renamed over path, and then the
// directory is fsynced. When fill or any step fails, path is left as it
// was and the temp file is removed.
func WriteFrom(path string, mode fs.FileMode, fill func(io.Writer) error) error {
	return writeVia(path, mode, fill, false)
}

// CreateNew writes data to path like WriteFile, but only when path does not
// exist yet: the synced temp file is hard-linked into place, which never
// replaces. An existing path gives an error wrapping fs.ErrExist.
func CreateNew(path string, data []byte, mode fs.FileMode) error {
	return writeVia(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, true)
}

func writeVia(path string, mode fs.FileMode, fill func(io.Writer) error, exclusive bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if exclusive {
		// The deferred cleanup removes the temp name; the link stays.
		if err := os.Link(f.Name(), path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return SyncDir(dir)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	renamed = true
	return SyncDir(dir)
}

// SyncDir fsyncs the directory dir, making renames and creations in it
// durable. File systems that cannot fsync a directory (EINVAL) are
// accepted as they are.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// SyncFS flushes the whole file system holding path with syncfs(2): one
// call instead of an fsync per file of a freshly written tree.
func SyncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}
