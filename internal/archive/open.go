package archive

import (
	"archive/tar"
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

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
// io.EOF; a refused entry is an [*Error]; a malformed archive is the tar
// reader's error, unwrapped. The entry's content is read from r.
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
			return nil, Entry{}, err // the caller says what it was reading
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

// Entries returns how many entries (PAX global headers aside) Next has
// read, the last one included.
func (r *Reader) Entries() int { return r.n }

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
