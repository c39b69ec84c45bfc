package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// ErrNotFetched is what a LayerFetcher returns for a layer it does not
// fetch (no infohash annotation, say): Add then reads the layer from the
// image's source as usual.
var ErrNotFetched = errors.New("layer not fetched by the layer fetcher")

// Adopt moves a finished blob file at path (under PartialDir) into the
// store once its size and sha256 match desc, and returns the stored
// file's path. A blob that does not match is removed and nothing enters
// the store. It may be called for any layer of the image being added (a
// fetcher may fetch them all at once) until Add returns.
type Adopt func(ctx context.Context, desc v1.Descriptor, path string) (stored string, err error)

// LayerFetcher fetches a layer blob of src some other way than src's
// registry (a node's BitTorrent client): it writes the blob to a file
// under the store's PartialDir and hands it to adopt. It returns
// ErrNotFetched, having adopted nothing, for layers it leaves to the
// registry. Any other error fails the pull. Add calls it for each layer
// missing from the store, in order, one at a time.
type LayerFetcher func(ctx context.Context, src *Source, desc v1.Descriptor, adopt Adopt) error

// WithLayerFetcher makes Add fetch layers missing from the store through
// f (default: every layer from the image's source).
func WithLayerFetcher(f LayerFetcher) PullOption {
	return func(o *pullOptions) error {
		if f == nil {
			return errors.New("WithLayerFetcher: nil fetcher")
		}
		o.fetch = f
		return nil
	}
}

// PartialDir is the store's area for blobs being downloaded: on the
// store's filesystem, so a finished one moves in without a copy, and kept
// across restarts so a download resumes.
func (s *Store) PartialDir() string { return s.path("partial") }

// BlobPath returns the path of the stored blob with this digest, or an
// error wrapping fs.ErrNotExist.
func (s *Store) BlobPath(digest string) (string, error) {
	h, err := hexOf(digest)
	if err != nil {
		return "", err
	}
	p := s.path("blobs", "sha256", h)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("blob %s: %w", digest, err)
	}
	return p, nil
}

// Layers returns the layer descriptors of the image's manifest, bottom
// first.
func (src *Source) Layers() []v1.Descriptor { return slices.Clone(src.manifest.Layers) }

// Manifest returns the raw manifest of a stored image.
func (s *Store) Manifest(digest string) ([]byte, error) {
	p, err := s.BlobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", digest, err)
	}
	if sha256Digest(b) != digest {
		return nil, fmt.Errorf("manifest %s in the store does not match its digest", digest)
	}
	return b, nil
}

// adopt is Adopt. The caller holds the store lock.
func (s *Store) adopt(src *Source) Adopt {
	return func(ctx context.Context, desc v1.Descriptor, path string) (string, error) {
		if !slices.ContainsFunc(src.manifest.Layers, func(l v1.Descriptor) bool { return l.Digest == desc.Digest && l.Size == desc.Size }) {
			return "", fmt.Errorf("adopting %s: not a layer of %s", desc.Digest, src.Ref)
		}
		dir := s.PartialDir()
		if rel, err := filepath.Rel(dir, path); err != nil || filepath.Dir(rel) != "." || rel == "." {
			return "", fmt.Errorf("adopting %s: %s is not in %s", desc.Digest, path, dir)
		}
		err := s.adoptFile(path, desc)
		if err != nil {
			_ = os.Remove(path)
			return "", fmt.Errorf("adopting %s: %w", desc.Digest, err)
		}
		return s.path("blobs", "sha256", desc.Digest.Hex), nil
	}
}

func (s *Store) adoptFile(path string, desc v1.Descriptor) error {
	if desc.Digest.Algorithm != "sha256" {
		return fmt.Errorf("only sha256 digests are supported")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != desc.Size {
		return fmt.Errorf("%d bytes, want %d", n, desc.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != desc.Digest.Hex {
		return fmt.Errorf("content hashes to sha256:%s", got)
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	final := s.path("blobs", "sha256", desc.Digest.Hex)
	if err := os.Rename(path, final); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(final))
}
