package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
	"github.com/un-distro/undistro/runtime/unpack"
)

// layer unpacks the layer blob desc into layers/DIFFID-HEX unless it is
// there, checking its diffID, and checks its privileged paths against the
// image's metadata (a layer shared by two images was accepted for one).
func (s *Store) layer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, privileged []string) error {
	if _, err := hexOf(diffID.String()); err != nil {
		return err
	}
	final := s.path("layers", diffID.Hex)
	if _, err := os.Stat(final); err == nil {
		st, err := s.layerStats(diffID.String())
		if err != nil {
			return err
		}
		if !slices.Contains(st.Blobs, desc.Digest.String()) {
			// Another compression of the same layer, or a config lying
			// about its diffIDs: check before reusing what is unpacked.
			if err := s.verifyBlob(desc, diffID); err != nil {
				return fmt.Errorf("checking layer %s: %w", desc.Digest, err)
			}
		}
		for _, p := range st.Privileged {
			if !slices.Contains(privileged, p) {
				return fmt.Errorf("layer %s holds privileged path %s that this image's metadata does not declare", diffID, p)
			}
		}
		return nil
	}
	tmp := tmpName(s.path("layers"), final)
	st, err := s.unpackBlob(ctx, desc, diffID, tmp, privileged)
	if err != nil {
		_ = removeAll(tmp)
		return fmt.Errorf("unpacking layer %s: %w", desc.Digest, err)
	}
	crash.Point("layer.readonly")
	if err := makeReadOnly(tmp); err != nil {
		return fmt.Errorf("making layer %s read-only: %w", diffID, err)
	}
	b, err := json.Marshal(layerInfo{Stats: st, Blobs: []string{desc.Digest.String()}})
	if err != nil {
		return err
	}
	if err := writeFile(final+".json", b, "layer.stats"); err != nil {
		return err
	}
	if err := atomicfile.PublishDir(tmp, final, atomicfile.Step("layer")); err != nil {
		return fmt.Errorf("publishing layer %s: %w", diffID, err)
	}
	return nil
}

// layerStream reads a stored layer blob as a tar stream; finish drains
// both streams and checks the blob digest and the diffID.
type layerStream struct {
	tar    io.Reader
	finish func() error
	close  func()
}

func (s *Store) openLayer(desc v1.Descriptor, diffID v1.Hash) (*layerStream, error) {
	f, err := os.Open(s.path("blobs", "sha256", desc.Digest.Hex))
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	compressed := sha256.New()
	in := io.TeeReader(bufio.NewReaderSize(f, 1<<20), compressed)
	closers := []func() error{f.Close}
	var tarStream io.Reader
	switch desc.MediaType {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer:
		zr, err := gzip.NewReader(in)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("decompressing: %w", err)
		}
		closers = append(closers, zr.Close)
		tarStream = zr
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		tarStream = in
	default:
		f.Close()
		return nil, fmt.Errorf("layer media type %s is not supported (want gzip or uncompressed tar)", desc.MediaType)
	}
	uncompressed := sha256.New()
	tee := io.TeeReader(tarStream, uncompressed)
	return &layerStream{
		tar: tee,
		finish: func() error {
			// Read what the tar reader left (end-of-archive padding) so
			// both hashes cover every byte.
			if _, err := io.Copy(io.Discard, tee); err != nil {
				return fmt.Errorf("decompressing: %w", err)
			}
			if _, err := io.Copy(io.Discard, in); err != nil {
				return fmt.Errorf("reading blob: %w", err)
			}
			if err := check(compressed, desc.Digest, "blob"); err != nil {
				return err
			}
			return check(uncompressed, diffID, "diffID")
		},
		close: func() {
			for _, c := range closers {
				_ = c()
			}
		},
	}, nil
}

func (s *Store) unpackBlob(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, dst string, privileged []string) (unpack.Stats, error) {
	ls, err := s.openLayer(desc, diffID)
	if err != nil {
		return unpack.Stats{}, err
	}
	defer ls.close()
	crash.Point("layer.unpack")
	st, err := unpack.Unpack(ctx, ls.tar, dst, unpack.Options{Privileged: privileged})
	if err != nil {
		return st, err
	}
	return st, ls.finish()
}

// verifyBlob checks a stored layer blob against its digest and diffID
// without unpacking it.
func (s *Store) verifyBlob(desc v1.Descriptor, diffID v1.Hash) error {
	ls, err := s.openLayer(desc, diffID)
	if err != nil {
		return err
	}
	defer ls.close()
	return ls.finish()
}

func check(h hash.Hash, want v1.Hash, what string) error {
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return fmt.Errorf("%s mismatch: content hashes to %s, want %s", what, got, want)
	}
	return nil
}

// layerInfo is layers/HEX.json.
type layerInfo struct {
	unpack.Stats
	// Blobs are the compressed blobs verified to hold this layer.
	Blobs []string `json:"blobs"`
}

func (s *Store) layerStats(diffID string) (layerInfo, error) {
	var st layerInfo
	h, err := hexOf(diffID)
	if err != nil {
		return st, err
	}
	b, err := os.ReadFile(s.path("layers", h+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("layer %s has no stats file: run gc and pull again", diffID)
	}
	if err != nil {
		return st, fmt.Errorf("reading layer stats: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decoding layer stats of %s: %w", diffID, err)
	}
	return st, nil
}
