package source

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Limits on what one archive may expand to; beyond them it is refused.
const (
	maxExtractEntries = 1 << 20
	maxLinkHops       = 40
)

// maxExtractBytes caps the bytes one archive may expand to (a var so the
// fuzzer can lower it).
var maxExtractBytes int64 = 32 << 30

// archiveFormat returns the archive format named by a file name: "tar",
// "tar.gz", "tar.xz", "tar.bz2", "zip", or "" for a plain file.
func archiveFormat(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tar.gz"
	case strings.HasSuffix(n, ".tar.xz"), strings.HasSuffix(n, ".txz"):
		return "tar.xz"
	case strings.HasSuffix(n, ".tar.bz2"), strings.HasSuffix(n, ".tbz2"), strings.HasSuffix(n, ".tbz"):
		return "tar.bz2"
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	}
	return ""
}

// Extract unpacks the archive at file into dst, which must not exist. The
// format comes from the file name (.tar, .tar.gz, .tgz, .tar.xz, .txz,
// .tar.bz2, .tbz2, .zip); any other file is kept as the single file
// dst/<base name>. When the archive holds one top-level directory, its
// contents become dst. Hostile archives are refused with ErrUnsafeArchive:
// absolute names, ".." elements, symlinks that resolve outside dst, hard
// links to anything but a file already extracted, device nodes and FIFOs.
// Files are created 0644 or 0755, directories 0755; ownership, times and
// special bits are not kept. Nothing is ever written outside dst.
func Extract(ctx context.Context, file, dst string) error {
	format := archiveFormat(filepath.Base(file))
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(file), err)
	}
	if format == "" {
		return copyFile(file, filepath.Join(dst, filepath.Base(file)), 0o644, nil)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(file), err)
	}
	defer root.Close()
	x := &extractor{root: root}
	if err := x.extract(ctx, format, file); err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(file), err)
	}
	if err := x.checkLinks(); err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(file), err)
	}
	return stripTop(dst)
}

type extractor struct {
	root    *os.Root
	links   []string
	bytes   int64
	entries int
}

func (x *extractor) extract(ctx context.Context, format, file string) error {
	if format == "zip" {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return err
		}
		defer zr.Close()
		return x.zip(ctx, &zr.Reader)
	}
	if format == "tar.xz" {
		return x.xz(ctx, file)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	switch format {
	case "tar.gz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case "tar.bz2":
		r = bzip2.NewReader(f)
	}
	return x.tar(ctx, r)
}

// xz decompresses with the xz tool: the module graph has no xz decoder.
func (x *extractor) xz(ctx context.Context, file string) error {
	if err := need("xz", "xz-utils"); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xz", "-dc", "--", file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running xz: %w", err)
	}
	terr := x.tar(ctx, out)
	if terr != nil {
		cancel()
	} else {
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if terr != nil {
		return terr
	}
	if werr != nil {
		return fmt.Errorf("running xz -d: %w: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func (x *extractor) tar(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := x.entry(h.Name)
		if err != nil {
			return err
		}
		if isSparse(h) {
			// A few bytes of sparse map can claim terabytes of holes.
			return fmt.Errorf("%w: %s is a sparse file; repack the archive without --sparse", ErrUnsafeArchive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = x.dir(name)
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			err = x.file(name, fs.FileMode(h.Mode), tr)
		case tar.TypeSymlink:
			err = x.symlink(name, h.Linkname)
		case tar.TypeLink:
			err = x.hardlink(name, h.Linkname)
		case tar.TypeChar, tar.TypeBlock:
			err = fmt.Errorf("%w: %s is a device node", ErrUnsafeArchive, h.Name)
		case tar.TypeFifo:
			err = fmt.Errorf("%w: %s is a FIFO", ErrUnsafeArchive, h.Name)
		default:
			err = fmt.Errorf("%w: %s has unsupported tar type %q", ErrUnsafeArchive, h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// entry checks an archive member name and returns it cleaned and
// relative ("." for the top directory itself).
func (x *extractor) entry(name string) (string, error) {
	x.entries++
	if x.entries > maxExtractEntries {
		return "", fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, maxExtractEntries)
	}
	if err := safeRel(name); err != nil {
		return "", err
	}
	return path.Clean(name), nil
}

// safeRel refuses empty, absolute and NUL-holding names and ".." elements.
func safeRel(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty member name", ErrUnsafeArchive)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: %s is an absolute path", ErrUnsafeArchive, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %q holds a NUL byte", ErrUnsafeArchive, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return fmt.Errorf("%w: %s has a \"..\" element", ErrUnsafeArchive, name)
		}
	}
	return nil
}

func (x *extractor) dir(name string) error {
	if err := x.root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("%w: creating directory %s: %v", ErrUnsafeArchive, name, err)
	}
	return nil
}

// clear makes room for a new non-directory member called name.
func (x *extractor) clear(name string) error {
	if name == "." {
		return fmt.Errorf("%w: a non-directory member names the top directory", ErrUnsafeArchive)
	}
	if err := x.dir(path.Dir(name)); err != nil {
		return err
	}
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnsafeArchive, name, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s replaces a directory", ErrUnsafeArchive, name)
	}
	return x.root.Remove(name)
}

func (x *extractor) file(name string, mode fs.FileMode, r io.Reader) error {
	if err := x.clear(name); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("%w: creating %s: %v", ErrUnsafeArchive, name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, maxExtractBytes-x.bytes+1))
	x.bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if x.bytes > maxExtractBytes {
		return fmt.Errorf("%w: expands to more than %d bytes", ErrUnsafeArchive, maxExtractBytes)
	}
	return nil
}

func (x *extractor) symlink(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return fmt.Errorf("%w: symlink %s -> %q leaves the tree (empty or absolute target)", ErrUnsafeArchive, name, target)
	}
	if j := path.Join(path.Dir(name), target); j == ".." || strings.HasPrefix(j, "../") {
		return fmt.Errorf("%w: symlink %s -> %s leaves the tree", ErrUnsafeArchive, name, target)
	}
	if err := x.clear(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fmt.Errorf("%w: creating symlink %s: %v", ErrUnsafeArchive, name, err)
	}
	x.links = append(x.links, name)
	return nil
}

func (x *extractor) hardlink(name, target string) error {
	if err := safeRel(target); err != nil {
		return fmt.Errorf("hard link %s: %w", name, err)
	}
	target = path.Clean(target)
	fi, err := x.root.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: hard link %s -> %s does not point to a file extracted before it", ErrUnsafeArchive, name, target)
	}
	if err := x.clear(name); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return fmt.Errorf("%w: creating hard link %s: %v", ErrUnsafeArchive, name, err)
	}
	return nil
}
