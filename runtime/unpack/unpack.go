package unpack

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/un-distro/undistro/internal/archive"
	"github.com/un-distro/undistro/internal/crash"
)

type kind uint8

const (
	kDir kind = iota + 1
	kFile
	kSymlink
	kSpecial // device or fifo
	kOther   // found on disk, not a directory
)

func (k kind) String() string {
	switch k {
	case kDir:
		return "directory"
	case kFile:
		return "regular file"
	case kSymlink:
		return "symlink"
	case kSpecial:
		return "device or fifo"
	}
	return "non-directory"
}

type dirMeta struct {
	name     string
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
}

type unpacker struct {
	root   *os.Root
	o      Options
	seen   map[string]kind // what is on disk, as far as we know
	dirs   map[string]dirMeta
	wh     map[string]bool
	st     Stats
	asRoot bool
}

// Unpack reads the uncompressed layer tar r and extracts it into dst, which
// must be missing or empty (its parent must exist). On error dst holds a
// partial extraction the caller removes; nothing outside dst is touched
// either way. See the package documentation for what is refused.
func Unpack(ctx context.Context, r io.Reader, dst string, o Options) (Stats, error) {
	ar, err := archive.NewReader(r, o.rules())
	if err != nil {
		return Stats{}, fmt.Errorf("unpack options: %w", err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return Stats{}, fmt.Errorf("creating %s: %w", dst, err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return Stats{}, fmt.Errorf("opening %s: %w", dst, err)
	}
	defer root.Close()
	u := &unpacker{
		root:   root,
		o:      o,
		seen:   make(map[string]kind),
		dirs:   make(map[string]dirMeta),
		wh:     make(map[string]bool),
		asRoot: os.Geteuid() == 0,
	}
	for {
		if err := ctx.Err(); err != nil {
			return u.st, err
		}
		hdr, e, err := ar.Next()
		u.st.Entries = ar.Entries()
		if err == io.EOF {
			break
		}
		if errors.Is(err, archive.ErrRefused) {
			return u.st, err
		}
		if err != nil {
			return u.st, fmt.Errorf("reading layer tar after %d entries: %w", u.st.Entries, err)
		}
		if err := u.entry(hdr, e, ar); err != nil {
			return u.st, err
		}
	}
	if err := u.finishDirs(); err != nil {
		return u.st, err
	}
	slices.Sort(u.st.Whiteouts)
	slices.Sort(u.st.Opaque)
	slices.Sort(u.st.Privileged)
	return u.st, nil
}

// entry writes one entry the shared rules have accepted.
func (u *unpacker) entry(hdr *tar.Header, e archive.Entry, content io.Reader) error {
	crash.Point("unpack.entry")
	name := e.Name
	if e.Kind == archive.KindWhiteout {
		return u.whiteout(hdr.Name, e)
	}
	if err := u.parents(hdr.Name, name, true); err != nil {
		return err
	}
	if k, ok := u.seen[name]; ok && k == kDir && e.Kind == archive.KindDir {
		u.dirs[name] = meta(name, hdr) // a repeated directory entry
		return nil
	}
	if _, err := u.root.Lstat(name); err == nil {
		return refuse(hdr.Name, archive.RuleDuplicate, "already exists in the target directory")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", name, err)
	}
	if e.Privileged {
		u.st.Privileged = append(u.st.Privileged, "/"+name)
	}
	mode := hdr.FileInfo().Mode()
	switch e.Kind {
	case archive.KindFile:
		return u.file(hdr, name, mode, content)
	case archive.KindDir:
		if err := u.root.Mkdir(name, 0o755); err != nil {
			return fmt.Errorf("creating directory %s: %w", name, err)
		}
		u.seen[name] = kDir
		u.dirs[name] = meta(name, hdr)
		u.st.Dirs++
		return nil
	case archive.KindSymlink:
		return u.symlink(hdr, name)
	case archive.KindHardlink:
		return u.hardlink(hdr, name, e.Link)
	case archive.KindSpecial:
		return u.special(hdr, name, mode)
	}
	return refuse(hdr.Name, archive.RuleType, "unsupported entry type %q", string(hdr.Typeflag))
}

func meta(name string, hdr *tar.Header) dirMeta {
	return dirMeta{name: name, mode: hdr.FileInfo().Mode().Perm() | hdr.FileInfo().Mode()&(fs.ModeSetgid|fs.ModeSticky), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
}

// parents checks that every parent directory of name is a real directory,
// never a symlink; with create, missing parents are created.
func (u *unpacker) parents(entry, name string, create bool) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	p := ""
	for c := range strings.SplitSeq(dir, "/") {
		p = path.Join(p, c)
		k, ok := u.seen[p]
		if !ok {
			fi, err := u.root.Lstat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if !create {
					return nil
				}
				if err := u.root.Mkdir(p, 0o755); err != nil {
					return fmt.Errorf("creating directory %s: %w", p, err)
				}
				k = kDir
				u.st.Dirs++
			case err != nil:
				return fmt.Errorf("checking %s: %w", p, err)
			case fi.Mode()&fs.ModeSymlink != 0:
				k = kSymlink
			case fi.IsDir():
				k = kDir
			default:
				k = kOther
			}
			u.seen[p] = k
		}
		if k == kSymlink {
			return refuse(entry, archive.RuleParent, "parent %q is a symlink", p)
		}
		if k != kDir {
			return refuse(entry, archive.RuleParent, "parent %q is a %s, not a directory", p, k)
		}
	}
	return nil
}

func (u *unpacker) whiteout(entry string, e archive.Entry) error {
	if err := u.parents(entry, e.Name, false); err != nil {
		return err
	}
	if e.Opaque != "" {
		if !u.wh["opq:"+e.Opaque] {
			u.st.Opaque = append(u.st.Opaque, e.Opaque)
		}
		u.wh["opq:"+e.Opaque] = true
		return nil
	}
	if !u.wh[e.Whiteout] {
		u.st.Whiteouts = append(u.st.Whiteouts, e.Whiteout)
	}
	u.wh[e.Whiteout] = true
	return nil
}

func (u *unpacker) file(hdr *tar.Header, name string, mode fs.FileMode, r io.Reader) error {
	// The checker has refused negative and oversized files.
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	u.seen[name] = kFile
	n, err := io.Copy(f, io.LimitReader(r, hdr.Size))
	u.st.Bytes += n
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if u.asRoot { // before chmod: chown clears setuid/setgid
		if err := f.Chown(hdr.Uid, hdr.Gid); err != nil {
			f.Close()
			return fmt.Errorf("setting owner of %s: %w", name, err)
		}
	}
	if err := f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		f.Close()
		return fmt.Errorf("setting mode of %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := u.root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
		return fmt.Errorf("setting times of %s: %w", name, err)
	}
	u.st.Files++
	return nil
}
