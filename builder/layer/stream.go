package layer

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/un-distro/undistro/internal/archive"
)

// Compression parameters. The gzip output depends on both, never on how
// many blocks are compressed at once, so they are constants: changing one
// changes every layer digest.
const (
	// BlockSize is the size of the independently compressed pgzip blocks.
	BlockSize = 1 << 20
	// Level is the gzip compression level.
	Level = 6
)

// hashCounter hashes and counts what passes through it to w.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashCounter(w io.Writer) *hashCounter { return &hashCounter{w: w, h: sha256.New()} }

func (c *hashCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *hashCounter) digest() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }

// stream is the tar -> sha256 -> pgzip -> sha256 -> w pipeline.
type stream struct {
	blob       *hashCounter // compressed bytes
	gz         *pgzip.Writer
	tarBytes   *hashCounter // uncompressed bytes
	tw         *tar.Writer
	mtime      time.Time
	owners     map[string][2]int
	privileged map[string]bool
	files      []string
	buf        []byte
	// check applies the node's rules (internal/archive) to every header:
	// a package the node would refuse fails its build instead.
	check *archive.Checker
}

func newStream(w io.Writer, o Options) *stream {
	// Options.validate has refused negative values, so the rules are valid.
	// A package adds files: a whiteout in it would silently delete another
	// package's file on the node.
	check, _ := archive.NewChecker(archive.Rules{Privileged: o.Privileged, NoWhiteouts: true})
	s := &stream{
		blob:       newHashCounter(w),
		mtime:      time.Unix(o.Epoch, 0).UTC(),
		owners:     map[string][2]int{},
		privileged: map[string]bool{},
		buf:        make([]byte, 256<<10),
		check:      check,
	}
	for p, ids := range o.Owners {
		s.owners[cleanRel(p)] = ids
	}
	for _, p := range o.Privileged {
		s.privileged[cleanRel(p)] = true
	}
	// The level is a valid constant, so NewWriterLevel cannot fail.
	s.gz, _ = pgzip.NewWriterLevel(s.blob, Level)
	s.gz.ModTime = time.Unix(0, 0)
	s.gz.OS = 255
	// Concurrency (the second argument) does not change the output.
	_ = s.gz.SetConcurrency(BlockSize, max(2, runtime.GOMAXPROCS(0)))
	s.tarBytes = newHashCounter(s.gz)
	s.tw = tar.NewWriter(s.tarBytes)
	return s
}

func (s *stream) dir(name string, m fs.FileMode) error {
	h := s.header(tar.TypeDir, name, s.tarMode(name, m))
	h.Name = name + "/"
	return s.write(h)
}

func (s *stream) symlink(name, target string) error {
	h := s.header(tar.TypeSymlink, name, 0o777)
	h.Linkname = target
	s.files = append(s.files, name)
	return s.write(h)
}

// hardlink emits name as a hardlink to first, which shares its inode, so
// mode and owner are first's.
func (s *stream) hardlink(name, first string, m fs.FileMode) error {
	h := s.header(tar.TypeLink, first, s.tarMode(first, m))
	h.Name = name
	h.Linkname = first
	s.files = append(s.files, name)
	return s.write(h)
}

func (s *stream) file(name, hostPath string, m fs.FileMode, size int64) error {
	ids := s.owners[name]
	return s.fileOwned(name, hostPath, m, size, ids[0], ids[1])
}

func (s *stream) fileOwned(name, hostPath string, m fs.FileMode, size int64, uid, gid int) error {
	h := s.header(tar.TypeReg, name, s.tarMode(name, m))
	h.Uid, h.Gid = uid, gid
	h.Size = size
	s.files = append(s.files, name)
	if err := s.write(h); err != nil {
		return err
	}
	f, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("reading %s: %w", hostPath, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(s.tw, io.LimitReader(f, size), s.buf)
	if err != nil {
		return fmt.Errorf("writing %s into layer: %w", hostPath, err)
	}
	if n != size {
		return fmt.Errorf("writing %s into layer: file shrank from %d to %d bytes while being read; is a build still running?", hostPath, size, n)
	}
	return nil
}

func (s *stream) write(h *tar.Header) error {
	if _, err := s.check.Check(h); err != nil {
		var re *archive.Error
		if errors.As(err, &re) {
			return fmt.Errorf("/%s: %w (rule %q): the node would refuse this tree, fix the build script", strings.TrimSuffix(h.Name, "/"), err, re.Rule)
		}
		return err
	}
	if err := s.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing tar header for %s: %w", h.Name, err)
	}
	return nil
}

// fail releases the compressor's goroutines after an error and returns err.
func (s *stream) fail(err error) error {
	_ = s.gz.Close()
	return err
}

func (s *stream) close() (Info, error) {
	if err := s.tw.Close(); err != nil {
		_ = s.gz.Close()
		return Info{}, fmt.Errorf("finishing tar: %w", err)
	}
	if err := s.gz.Close(); err != nil {
		return Info{}, fmt.Errorf("finishing gzip: %w", err)
	}
	files := s.files
	if files == nil {
		files = []string{}
	}
	sort.Strings(files)
	return Info{
		DiffID:           s.tarBytes.digest(),
		Digest:           s.blob.digest(),
		Size:             s.blob.n,
		UncompressedSize: s.tarBytes.n,
		Files:            files,
	}, nil
}
