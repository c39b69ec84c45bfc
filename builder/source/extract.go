package source

import (
	"archive/tar"
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/internal/archive"
	"github.com/un-distro/undistro/internal/archive/compression"
)

// Limits on what one archive may expand to; beyond them it is refused.
const (
	maxExtractEntries = 1 << 20
	maxLinkHops       = 40
)

// maxExtractBytes caps the bytes one archive may expand to (a var so the
// fuzzer can lower it).
var maxExtractBytes int64 = 32 << 30

// archiveFormat returns the archive format named by a file name: "tar"
// (any tar, compressed or not: the compression is read from its first
// bytes), "zip", or "" for a plain file.
func archiveFormat(name string) string {
	n := strings.ToLower(name)
	for _, suf := range []string{".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst"} {
		if strings.HasSuffix(n, suf) {
			return "tar"
		}
	}
	if strings.HasSuffix(n, ".zip") {
		return "zip"
	}
	return ""
}

// Extract unpacks the archive at file into dst, which must not exist. The
// format comes from the file name (.tar, .tar.gz, .tgz, .tar.xz, .txz,
// .tar.bz2, .tbz2, .tar.zst, .tzst, .zip); any other file is kept as the
// single file dst/<base name>. When the archive holds one top-level
// directory, its contents become dst. Archives are read and judged by
// internal/archive, the rule set layers obey too, with absolute symlinks
// refused and setuid bits dropped; hostile ones are refused with
// ErrUnsafeArchive (wrapping the [archive.Error] that names the entry and
// the rule): absolute names, ".." elements, duplicates, symlinks that
// resolve outside dst (also through other symlinks), hard links to
// anything but a file already extracted, device nodes and FIFOs.
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
	root  *os.Root
	check *archive.Checker
	links []string
}

// rules are the shared rules for a source tree: its root is not "/", so
// absolute symlinks are refused; setuid bits are dropped, not judged.
func rules() archive.Rules {
	return archive.Rules{RelativeLinksOnly: true, IgnoreSetuid: true, MaxTotalSize: maxExtractBytes, MaxEntries: maxExtractEntries, NoSpecialFiles: true, Noun: "archive member"}
}

func (x *extractor) extract(ctx context.Context, format, file string) error {
	c, err := archive.NewChecker(rules())
	if err != nil {
		return err
	}
	x.check = c
	if format == "zip" {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return err
		}
		defer zr.Close()
		return x.zip(ctx, &zr.Reader)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	dec, got, err := compression.Decompress(f)
	if err != nil {
		return err
	}
	defer dec.Close()
	if want := promisedCompression(file); want != got {
		return fmt.Errorf("%s holds %s data, not %s as its name says: check the URL", filepath.Base(file), got, want)
	}
	return x.tar(ctx, dec)
}

func (x *extractor) tar(ctx context.Context, r io.Reader) error {
	ar, err := archive.NewReader(r, rules())
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, e, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, archive.ErrRefused) {
			return fmt.Errorf("%w: %w", ErrUnsafeArchive, err)
		}
		if err != nil {
			return fmt.Errorf("reading tar after %d entries: %w", ar.Entries(), err)
		}
		if err := x.write(h, e, ar); err != nil {
			return err
		}
	}
}

// promisedCompression returns the compression a tar file's name promises.
func promisedCompression(file string) string {
	n := strings.ToLower(file)
	switch {
	case strings.HasSuffix(n, ".gz"), strings.HasSuffix(n, ".tgz"):
		return compression.Gzip
	case strings.HasSuffix(n, ".xz"), strings.HasSuffix(n, ".txz"):
		return compression.XZ
	case strings.HasSuffix(n, ".bz2"), strings.HasSuffix(n, ".tbz2"), strings.HasSuffix(n, ".tbz"):
		return compression.Bzip2
	case strings.HasSuffix(n, ".zst"), strings.HasSuffix(n, ".tzst"):
		return compression.Zstd
	}
	return compression.None
}

// member checks one zip entry with the shared rules and writes it.
func (x *extractor) member(h *tar.Header, r io.Reader) error {
	e, err := x.check.Check(h)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsafeArchive, err)
	}
	if e.Skip {
		return nil
	}
	return x.write(h, e, r)
}

// write writes one entry the shared rules have accepted.
func (x *extractor) write(h *tar.Header, e archive.Entry, r io.Reader) error {
	switch e.Kind {
	case archive.KindDir:
		return x.dir(e.Name)
	case archive.KindFile:
		return x.file(e.Name, fs.FileMode(h.Mode), r)
	case archive.KindSymlink:
		return x.symlink(e.Name, h.Linkname)
	case archive.KindHardlink:
		return x.hardlink(e.Name, e.Link)
	case archive.KindWhiteout:
		return fmt.Errorf("%w: %s is an OCI whiteout, not a source file", ErrUnsafeArchive, h.Name)
	}
	// Devices and fifos: the rules refuse them.
	return fmt.Errorf("%w: %s has unsupported type %q", ErrUnsafeArchive, h.Name, h.Typeflag)
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
	// The checker has bounded the declared size; a zip member's real
	// size is bounded by its declared one too.
	_, err = io.Copy(f, io.LimitReader(r, maxExtractBytes))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// symlink creates a link the checker has judged.
func (x *extractor) symlink(name, target string) error {
	if err := x.clear(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fmt.Errorf("%w: creating symlink %s: %v", ErrUnsafeArchive, name, err)
	}
	x.links = append(x.links, name)
	return nil
}

// hardlink links name to target, an earlier file the checker has seen.
func (x *extractor) hardlink(name, target string) error {
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
