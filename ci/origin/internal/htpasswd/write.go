package htpasswd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// stat returns what identifies one version of the file; a missing file is
// the zero stamp.
func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

// Update applies change to the users in the file at path and writes the
// result atomically (internal/atomicfile: temp, fsync, rename, fsync dir),
// mode 0600. Concurrent Updates of one file are serialised by a lock file
// beside it; a change that returns an error writes nothing.
func Update(path string, change func(Users) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	lk, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer lk.Close()
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	users, err := Read(path)
	if err != nil {
		return err
	}
	if err := change(users); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, users.Marshal(), 0o600, atomicfile.Step("htpasswd")); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
