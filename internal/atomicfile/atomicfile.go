package atomicfile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/crash"
)

// TempPrefix starts the name of every temp file this package creates.
const TempPrefix = ".tmp-"

// ErrDigestMismatch is wrapped by the error of [WriteBlob] when the
// content does not hash to the expected digest.
var ErrDigestMismatch = errors.New("the source is corrupt or was tampered with")

// Option tunes a write.
type Option func(*options)

type options struct {
	step string
}

// Step names the write in crash points ("STEP.create", "STEP.fsync", ...).
// The default is "file".
func Step(name string) Option {
	return func(o *options) {
		if name != "" {
			o.step = name
		}
	}
}

func collect(opts []Option) options {
	o := options{step: "file"}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// TempName returns a fresh, unique temp name in dir for final:
// dir/.tmp-BASE-RANDOM.
func TempName(dir, final string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(dir, TempPrefix+filepath.Base(final)+"-"+hex.EncodeToString(b[:]))
}

// IsTemp reports whether name (a base name) is a temp name of this package,
// a leftover when no write is running.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// WriteFile writes data to path with mode (applied exactly, regardless of
// the umask). See [WriteFrom].
func WriteFile(path string, data []byte, mode fs.FileMode, opts ...Option) error {
	return WriteFrom(path, mode, bytesFill(data), opts...)
}

// WriteFrom writes the content fill produces to path with mode (applied
// exactly, regardless of the umask): into a temp file in the same
// directory, which is fsynced, closed, renamed over path, and then the
// directory is fsynced. When fill or any step fails, path is left as it
// was and the temp file is removed.
func WriteFrom(path string, mode fs.FileMode, fill func(io.Writer) error, opts ...Option) error {
	return write(path, mode, fill, false, collect(opts))
}

// CreateNew writes data to path like [WriteFile], but only when path does
// not exist yet: the synced temp file is hard-linked into place, which
// never replaces. An existing path gives an error wrapping fs.ErrExist.
func CreateNew(path string, data []byte, mode fs.FileMode, opts ...Option) error {
	return write(path, mode, bytesFill(data), true, collect(opts))
}

// WriteBlob stores the content of r at path, a content-addressed blob,
// only if it hashes to wantHex (the lowercase hex sha256) and, when size is
// not negative, is size bytes long: the hash is computed while the temp
// file is written and checked before the fsync and the rename, so a blob
// with a wrong content never appears under its name, and at most size+1
// bytes are read from r. A mismatch gives an error wrapping
// [ErrDigestMismatch]. When a regular file of the right size (any size if
// size is negative) is at path already, r is not read: a blob's name is
// its content.
func WriteBlob(path string, r io.Reader, wantHex string, size int64, mode fs.FileMode, opts ...Option) error {
	if len(wantHex) != sha256.Size*2 || strings.ToLower(wantHex) != wantHex {
		return fmt.Errorf("writing %s: %q is not a sha256 hex digest", path, wantHex)
	}
	if _, err := hex.DecodeString(wantHex); err != nil {
		return fmt.Errorf("writing %s: %q is not a sha256 hex digest", path, wantHex)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size) {
		return nil
	}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	return write(path, mode, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), r)
		if err != nil {
			return err
		}
		if size >= 0 && n > size {
			return fmt.Errorf("content is longer than %d bytes: %w", size, ErrDigestMismatch)
		}
		if size >= 0 && n < size {
			return fmt.Errorf("content is %d bytes, want %d: %w", n, size, ErrDigestMismatch)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != wantHex {
			return fmt.Errorf("content hashes to sha256:%s, want sha256:%s: %w", got, wantHex, ErrDigestMismatch)
		}
		return nil
	}, false, collect(opts))
}

// Symlink points link at target: a fresh symlink with a temp name is
// renamed over link, then the directory is fsynced.
func Symlink(target, link string, opts ...Option) error {
	o := collect(opts)
	dir := filepath.Dir(link)
	tmp := TempName(dir, link)
	crash.Point(o.step + ".symlink")
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("linking %s: %w", link, err)
	}
	crash.Point(o.step + ".rename")
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("linking %s: %w", link, err)
	}
	return syncDir(dir, o)
}

func bytesFill(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

func write(path string, mode fs.FileMode, fill func(io.Writer) error, exclusive bool, o options) error {
	dir := filepath.Dir(path)
	tmp := TempName(dir, path)
	crash.Point(o.step + ".create")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	crash.Point(o.step + ".write")
	if err := fill(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	crash.Point(o.step + ".fsync")
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if exclusive {
		// The deferred cleanup removes the temp name; the link stays.
		crash.Point(o.step + ".link")
		if err := os.Link(tmp, path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	} else {
		crash.Point(o.step + ".rename")
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		done = true
	}
	return syncDir(dir, o)
}

// SyncDir fsyncs the directory dir, making renames, links and removals in
// it durable. A file system that cannot fsync a directory (EINVAL, as
// procfs) is accepted as it is; any other error is returned.
func SyncDir(dir string, opts ...Option) error {
	return syncDir(dir, collect(opts))
}

func syncDir(dir string, o options) error {
	crash.Point(o.step + ".dirsync")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// SyncFS flushes the whole file system holding path with syncfs(2): one
// call instead of an fsync per file of a freshly written tree.
func SyncFS(path string, opts ...Option) error {
	crash.Point(collect(opts).step + ".syncfs")
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

// PublishDir makes the tree at tmp (a temp directory beside final, such as
// one named by [TempName]) durable with one syncfs(2), renames it to final
// and fsyncs final's directory: a crash leaves final absent or complete,
// never half-written. A final that exists and is not an empty directory is
// not replaced: the error wraps syscall.EEXIST or syscall.ENOTEMPTY, and
// tmp is left for the caller to remove.
func PublishDir(tmp, final string, opts ...Option) error {
	o := collect(opts)
	if err := SyncFS(tmp, opts...); err != nil {
		return err
	}
	crash.Point(o.step + ".rename")
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("publishing %s: %w", final, err)
	}
	return syncDir(filepath.Dir(final), o)
}
