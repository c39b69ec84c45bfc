package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// ErrUnsupportedType is returned (wrapped, with the path) for device nodes,
// sockets and FIFOs, which a package layer may not carry.
var ErrUnsupportedType = errors.New("unsupported file type")

// Options controls what [Write] and [WriteFiles] put in the tar headers.
type Options struct {
	// Epoch is SOURCE_DATE_EPOCH, in seconds: every entry's mtime. It must
	// not be negative.
	Epoch int64
	// Owners maps a path inside the layer ("etc/foo" or "/etc/foo") to its
	// uid and gid. Paths not listed are owned by 0:0.
	Owners map[string][2]int
	// Privileged lists paths (as in Owners) that keep their setuid and
	// setgid bits; everywhere else the bits are dropped.
	Privileged []string
	// Prefix is where the tree is placed in the image, relative to /
	// ("" for the root). Its directories are emitted as 0755.
	Prefix string
}

// Info describes a written layer.
type Info struct {
	// DiffID is the digest of the uncompressed tar, "sha256:<hex>".
	DiffID string `json:"diffID"`
	// Digest is the digest of the gzip blob, "sha256:<hex>".
	Digest string `json:"digest"`
	// Size is the size of the gzip blob in bytes.
	Size int64 `json:"size"`
	// UncompressedSize is the size of the tar in bytes.
	UncompressedSize int64 `json:"uncompressedSize"`
	// Files lists every non-directory entry, relative to /, sorted.
	Files []string `json:"files"`
}

// Write writes the tree at dir as a deterministic gzip-compressed tar to w
// and returns its digests and file list. Nothing about the host (mtimes,
// owners, names, xattrs) leaks into the output.
func Write(ctx context.Context, dir string, w io.Writer, o Options) (Info, error) {
	if err := o.validate(); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return Info{}, fmt.Errorf("writing layer: %w", err)
	}
	if !fi.IsDir() {
		return Info{}, fmt.Errorf("writing layer: %s is not a directory", dir)
	}
	s := newStream(w, o)
	prefix := cleanRel(o.Prefix)
	if prefix != "" {
		parts := strings.Split(prefix, "/")
		for i := range parts {
			name := strings.Join(parts[:i+1], "/")
			if err := s.dir(name, 0o755); err != nil {
				return Info{}, s.fail(err)
			}
		}
	}
	walker := &walker{ctx: ctx, s: s, links: map[devIno]string{}}
	if err := walker.walkDir(dir, prefix); err != nil {
		return Info{}, s.fail(err)
	}
	return s.close()
}

// devIno identifies a file on the host, to find hardlinks.
type devIno struct{ dev, ino uint64 }

type walker struct {
	ctx   context.Context
	s     *stream
	links map[devIno]string // first name of each multiply-linked file
}

// walkDir emits the entries of host directory hostDir, whose layer name is
// name ("" for the layer root), sorted by file name, each directory before
// its contents.
func (wk *walker) walkDir(hostDir, name string) error {
	ents, err := os.ReadDir(hostDir)
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", hostDir, err)
	}
	for _, e := range ents {
		if err := wk.ctx.Err(); err != nil {
			return err
		}
		hostPath := filepath.Join(hostDir, e.Name())
		entName := e.Name()
		if name != "" {
			entName = name + "/" + e.Name()
		}
		if err := wk.entry(hostPath, entName); err != nil {
			return err
		}
	}
	return nil
}

func (wk *walker) entry(hostPath, name string) error {
	fi, err := os.Lstat(hostPath)
	if err != nil {
		return fmt.Errorf("reading %s: %w", hostPath, err)
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if err := wk.s.dir(name, mode); err != nil {
			return err
		}
		return wk.walkDir(hostPath, name)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(hostPath)
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", hostPath, err)
		}
		return wk.s.symlink(name, target)
	case mode.IsRegular():
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			id := devIno{uint64(st.Dev), st.Ino}
			if first, seen := wk.links[id]; seen {
				return wk.s.hardlink(name, first, mode)
			}
			wk.links[id] = name
		}
		return wk.s.file(name, hostPath, mode, fi.Size())
	default:
		return fmt.Errorf("%s: %w (%s): a package may only hold files, directories, symlinks and hardlinks; remove it from $DESTDIR", hostPath, ErrUnsupportedType, typeName(mode))
	}
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	}
	return m.Type().String()
}

// File is one config file for [WriteFiles].
type File struct {
	// Path is the absolute path in the image, e.g. "/etc/whoami/config".
	Path string
	// Source is the host file whose content is copied.
	Source string
	// Mode holds the permission bits (and setuid/setgid/sticky, the first
	// two kept only for Options.Privileged paths).
	Mode fs.FileMode
	UID  int
	GID  int
}

// WriteFiles writes files, plus their parent directories (0755, owned as
// in o.Owners or 0:0), as a deterministic gzip-compressed tar to w. The
// order is the same as [Write]'s walk order whatever the order of files.
// o.Prefix is ignored: file paths are absolute.
func WriteFiles(ctx context.Context, files []File, w io.Writer, o Options) (Info, error) {
	o.Prefix = ""
	if err := o.validate(); err != nil {
		return Info{}, err
	}
	byName := map[string]File{}
	dirs := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return Info{}, fmt.Errorf("writing config files: path %q must be absolute and clean, like /etc/app/config", f.Path)
		}
		name := cleanRel(f.Path)
		if _, dup := byName[name]; dup {
			return Info{}, fmt.Errorf("writing config files: %s is listed twice", f.Path)
		}
		if f.UID < 0 || f.GID < 0 {
			return Info{}, fmt.Errorf("writing config files: %s: negative owner %d:%d", f.Path, f.UID, f.GID)
		}
		byName[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(byName)+len(dirs))
	for d := range dirs {
		if _, clash := byName[d]; clash {
			return Info{}, fmt.Errorf("writing config files: /%s is both a file and a parent directory", d)
		}
		names = append(names, d)
	}
	for n := range byName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return walkLess(names[i], names[j]) })

	s := newStream(w, o)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return Info{}, s.fail(err)
		}
		f, ok := byName[n]
		if !ok {
			if err := s.dir(n, fs.ModeDir|0o755); err != nil {
				return Info{}, s.fail(err)
			}
			continue
		}
		fi, err := os.Stat(f.Source)
		if err != nil {
			return Info{}, s.fail(fmt.Errorf("reading config file %s for %s: %w", f.Source, f.Path, err))
		}
		if !fi.Mode().IsRegular() {
			return Info{}, s.fail(fmt.Errorf("reading config file %s for %s: not a regular file", f.Source, f.Path))
		}
		if err := s.fileOwned(n, f.Source, f.Mode, fi.Size(), f.UID, f.GID); err != nil {
			return Info{}, s.fail(err)
		}
	}
	return s.close()
}

// walkLess orders slash paths as a directory walk does: component by
// component, each compared lexically, so a directory precedes its contents.
func walkLess(a, b string) bool {
	for {
		ai, bi := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ah, bh := a, b
		if ai >= 0 {
			ah = a[:ai]
		}
		if bi >= 0 {
			bh = b[:bi]
		}
		if ah != bh {
			return ah < bh
		}
		if ai < 0 || bi < 0 {
			return ai < 0 && bi >= 0
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// cleanRel turns "/a/b", "a/b/", "./a/b" into "a/b"; "" and "/" into "".
func cleanRel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	return p
}

func (o *Options) validate() error {
	if o.Epoch < 0 {
		return fmt.Errorf("writing layer: epoch %d is negative: set SOURCE_DATE_EPOCH to seconds since 1970", o.Epoch)
	}
	for p, ids := range o.Owners {
		if ids[0] < 0 || ids[1] < 0 {
			return fmt.Errorf("writing layer: owner of %s is %d:%d: uid and gid must not be negative", p, ids[0], ids[1])
		}
	}
	if o.Prefix != "" {
		if strings.Contains("/"+o.Prefix+"/", "/../") {
			return fmt.Errorf("writing layer: prefix %q must not contain ..", o.Prefix)
		}
	}
	return nil
}

// tarMode returns the tar header mode bits for m at name.
func (s *stream) tarMode(name string, m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	if s.privileged[name] {
		if m&fs.ModeSetuid != 0 {
			mode |= 0o4000
		}
		if m&fs.ModeSetgid != 0 {
			mode |= 0o2000
		}
	}
	return mode
}

// header returns the fixed fields every entry shares.
func (s *stream) header(typ byte, name string, mode int64) *tar.Header {
	h := &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		ModTime:  s.mtime,
		Format:   tar.FormatPAX,
	}
	if ids, ok := s.owners[name]; ok {
		h.Uid, h.Gid = ids[0], ids[1]
	}
	return h
}
