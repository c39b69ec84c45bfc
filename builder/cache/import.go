package cache

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/unpack"
)

// ErrMismatch is wrapped by Import's errors when the blob does not match
// the layer Info it came with (digest, size, DiffID or file list).
var ErrMismatch = errors.New("layer blob does not match its metadata")

// Import puts a package built elsewhere into the cache under key: blob is
// its compressed layer blob, exactly as Put wrote it where it was built,
// and info what Put recorded for it. The blob's size and digest, its tar's
// DiffID and its list of non-directory entries must match info; the
// tree dependents build against is unpacked from the layer with the
// node's rules (runtime/unpack: no path out of the tree, setuid/setgid
// only on privileged paths). Nothing is cached unless everything matches;
// like Put, the entry appears atomically, and a key already cached is
// returned as is.
func (c *Cache) Import(ctx context.Context, key string, blob io.Reader, info layer.Info, privileged []string) (*Entry, error) {
	h, err := keyHex(key)
	if err != nil {
		return nil, err
	}
	if e, ok, err := c.Get(key); err != nil || ok {
		return e, err
	}
	if info.Size < 0 || info.UncompressedSize < 0 {
		return nil, fmt.Errorf("importing %s: negative size in the layer info: %w", key, ErrMismatch)
	}
	tmp, err := os.MkdirTemp(c.tmpDir(), fmt.Sprintf("put-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", key, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	blobPath := filepath.Join(tmp, layerFile)
	if err := copyBlob(ctx, blob, blobPath, info); err != nil {
		return nil, fmt.Errorf("importing %s: %w", key, err)
	}
	if err := unpackBlob(ctx, blobPath, filepath.Join(tmp, treeDir), info, privileged); err != nil {
		return nil, fmt.Errorf("importing %s: %w", key, err)
	}
	e := &Entry{Key: key, Layer: info}
	meta, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("importing %s: encoding metadata: %w", key, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, metaFile), meta, 0o644); err != nil {
		return nil, fmt.Errorf("importing %s: %w", key, err)
	}
	final := filepath.Join(c.entriesDir(), h)
	if err := atomicfile.PublishDir(tmp, final, atomicfile.Step("cache")); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			e, ok, gerr := c.Get(key)
			if gerr == nil && !ok {
				gerr = fmt.Errorf("importing %s: entry vanished after a concurrent put", key)
			}
			return e, gerr
		}
		return nil, fmt.Errorf("importing %s: %w", key, err)
	}
	e.path = final
	e.Dir = filepath.Join(final, treeDir)
	return e, nil
}

// copyBlob writes at most info.Size+1 bytes of r to dst and checks its size
// and digest.
func copyBlob(ctx context.Context, r io.Reader, dst string, info layer.Info) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(ctxReader{ctx, r}, info.Size+1))
	if err != nil {
		return fmt.Errorf("reading layer blob: %w", err)
	}
	if n != info.Size {
		return fmt.Errorf("layer blob has %s bytes, its metadata says %d: %w", sizeOf(n, info.Size), info.Size, ErrMismatch)
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); got != info.Digest {
		return fmt.Errorf("layer blob digest is %s, its metadata says %s: %w", got, info.Digest, ErrMismatch)
	}
	// Import's PublishDir makes the blob durable with one syncfs.
	return f.Close()
}

func sizeOf(n, want int64) string {
	if n > want {
		return "more than " + fmt.Sprint(want)
	}
	return fmt.Sprint(n)
}

// unpackBlob unpacks the gzip layer at blobPath into tree and checks the
// tar's DiffID and entry count against info.
func unpackBlob(ctx context.Context, blobPath, tree string, info layer.Info, privileged []string) error {
	f, err := os.Open(blobPath)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("reading layer blob: %w", err)
	}
	sum := sha256.New()
	tr := io.TeeReader(zr, sum)
	st, err := unpack.Unpack(ctx, tr, tree, unpack.Options{Privileged: privileged})
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	if wh := append(st.Whiteouts, st.Opaque...); len(wh) > 0 {
		// The builder never writes one (layer.Write refuses them): a package
		// that deletes another's files on the node is not a package.
		return fmt.Errorf("layer holds OCI whiteouts of %q, which no package layer does: %w", wh, ErrMismatch)
	}
	if _, err := io.Copy(io.Discard, tr); err != nil { // the tar's end padding
		return fmt.Errorf("reading layer blob: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); got != info.DiffID {
		return fmt.Errorf("layer tar digest is %s, its metadata says %s: %w", got, info.DiffID, ErrMismatch)
	}
	return sameFiles(tree, info.Files)
}

// sameFiles checks that the non-directory entries under tree are exactly
// files (relative, slash-separated, sorted, as layer.Info lists them).
func sameFiles(tree string, files []string) error {
	var got []string
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return fmt.Errorf("listing the unpacked layer: %w", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, files) {
		return fmt.Errorf("layer holds %d files, its metadata lists %d other ones: %w", len(got), len(files), ErrMismatch)
	}
	return nil
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
