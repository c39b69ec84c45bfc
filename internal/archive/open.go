package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names returned by Decompress.
const (
	None  = "none"
	Gzip  = "gzip"
	Bzip2 = "bzip2"
	XZ    = "xz"
	Zstd  = "zstd"
)

var magics = []struct {
	name  string
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Bzip2, []byte("BZh")},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// zstdWindow caps the memory a zstd stream may ask for (its window).
const zstdWindow = 1 << 27

// Decompress returns the decompressed stream of r, detecting gzip, bzip2,
// xz and zstd from the first bytes; anything else is returned as is
// (None). Close releases the decoder, not r.
func Decompress(r io.Reader) (io.ReadCloser, string, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	for _, m := range magics {
		if !bytes.HasPrefix(head, m.magic) {
			continue
		}
		switch m.name {
		case Gzip:
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, m.name, fmt.Errorf("reading gzip header: %w", err)
			}
			return zr, m.name, nil
		case Bzip2:
			return io.NopCloser(bzip2.NewReader(br)), m.name, nil
		case XZ:
			xr, err := xz.NewReader(br)
			if err != nil {
				return nil, m.name, fmt.Errorf("reading xz header: %w", err)
			}
			return io.NopCloser(xr), m.name, nil
		case Zstd:
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, m.name, fmt.Errorf("reading zstd header: %w", err)
			}
			return zstdCloser{zr}, m.name, nil
		}
	}
	return io.NopCloser(br), None, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// Reader reads a tar archive and judges every entry with a [Checker].
type Reader struct {
	tr *tar.Reader
	c  *Checker
	n  int
}

// NewReader returns a Reader for the uncompressed tar stream r.
func NewReader(r io.Reader, rules Rules) (*Reader, error) {
	c, err := NewChecker(rules)
	if err != nil {
		return nil, err
	}
	return &Reader{tr: tar.NewReader(r), c: c}, nil
}

// Next returns the next entry, checked, skipping those with nothing to
// write (the root directory, PAX global headers). At the end it returns
// io.EOF. The entry's content is read from r.
func (r *Reader) Next() (*tar.Header, Entry, error) {
	for {
		h, err := r.tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) && h != nil {
			err = nil // the Checker refuses it with a precise reason
		}
		if err == io.EOF {
			return nil, Entry{}, io.EOF
		}
		if err != nil {
			return nil, Entry{}, fmt.Errorf("reading tar after %d entries: %w", r.n, err)
		}
		if h.Typeflag != tar.TypeXGlobalHeader {
			r.n++
		}
		e, err := r.c.Check(h)
		if err != nil {
			return h, Entry{}, err
		}
		if e.Skip {
			continue
		}
		return h, e, nil
	}
}

// Read reads the current entry's content.
func (r *Reader) Read(p []byte) (int, error) { return r.tr.Read(p) }

// maxZipLink is the longest symlink target a zip member may hold.
const maxZipLink = 4096

// ZipHeader presents a zip member as a tar header, so a [Checker] judges
// it like any tar entry. A symlink's target is read from its content.
func ZipHeader(f *zip.File) (*tar.Header, error) {
	mode := f.Mode()
	h := &tar.Header{
		Name:     f.Name,
		Mode:     int64(mode.Perm()),
		ModTime:  f.Modified,
		Typeflag: tar.TypeReg,
		Size:     int64(f.UncompressedSize64),
		Format:   tar.FormatPAX,
	}
	if mode&fs.ModeSetuid != 0 {
		h.Mode |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		h.Mode |= 0o2000
	}
	switch {
	case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
		h.Typeflag, h.Size = tar.TypeDir, 0
	case mode&fs.ModeSymlink != 0:
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Name, err)
		}
		defer rc.Close()
		target, err := io.ReadAll(io.LimitReader(rc, maxZipLink+1))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Name, err)
		}
		if len(target) > maxZipLink {
			return nil, refuse(f.Name, RuleSymlink, "symlink target longer than %d bytes", maxZipLink)
		}
		h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, string(target), 0
	case mode.IsRegular():
	case mode&fs.ModeNamedPipe != 0:
		h.Typeflag, h.Size = tar.TypeFifo, 0
	case mode&fs.ModeCharDevice != 0:
		h.Typeflag, h.Size = tar.TypeChar, 0
	case mode&fs.ModeDevice != 0:
		h.Typeflag, h.Size = tar.TypeBlock, 0
	default:
		h.Typeflag = 'Z' // refused by the Checker as an unsupported type
	}
	return h, nil
}
