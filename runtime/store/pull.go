package store

import (
	"bufio"
	"bytes"
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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/internal/crash"
	"github.com/un-distro/undistro/runtime/unpack"
)

// Pull fetches the image ref names into the store and returns it. ref is a
// registry reference ("host:port/repo:tag", "host/repo@sha256:…") or
// "oci:PATH[:ROLE]", ROLE being the org.opencontainers.image.ref.name
// annotation (omitted: the layout's only image). Every blob is verified
// against its digest, every layer against its diffID; layers already in the
// store are neither fetched nor unpacked again. Pulling an image already in
// the store returns it.
func (s *Store) Pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	var o pullOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	img, digest, err := source(ctx, ref, &o)
	if err != nil {
		return nil, err
	}
	unlock, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r, err := s.readRecord(digest.String()); err == nil {
		return s.image(r)
	}
	if err := s.begin(journal{Op: "pull", Target: digest.String()}); err != nil {
		return nil, err
	}
	r, err := s.pull(ctx, ref, img, digest, &o)
	if err != nil {
		_ = s.end() // what was verified stays (content-addressed); temporaries are gone
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return s.image(r)
}

func (s *Store) pull(ctx context.Context, ref string, img v1.Image, digest v1.Hash, o *pullOptions) (*record, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if got := sha256Digest(rawManifest); got != digest.String() {
		return nil, fmt.Errorf("manifest hashes to %s, want %s", got, digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if got := sha256Digest(rawConfig); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("config hashes to %s, want %s", got, m.Config.Digest)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	meta, err := imagespec.Decode(cf.Config.Labels)
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers, config %d diffIDs", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	r := &record{Digest: digest.String(), Ref: ref, ConfigDigest: m.Config.Digest.String(),
		Size: int64(len(rawManifest)) + m.Config.Size, Pulled: time.Now().UTC()}
	prog := &progress{fn: o.progress}
	for _, l := range m.Layers {
		r.Size += l.Size
		if !s.hasBlob(l.Digest.String()) {
			prog.total += l.Size
		}
	}
	prog.report()
	if err := s.putBlob(bytes.NewReader(rawConfig), m.Config.Digest, nil); err != nil {
		return nil, err
	}
	for i, desc := range m.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		diffID := cf.RootFS.DiffIDs[i]
		r.Layers = append(r.Layers, diffID.String())
		r.Blobs = append(r.Blobs, desc.Digest.String())
		if !s.hasBlob(desc.Digest.String()) {
			l, err := img.LayerByDigest(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", desc.Digest, err)
			}
			rc, err := l.Compressed()
			if err != nil {
				return nil, fmt.Errorf("fetching layer %s: %w", desc.Digest, err)
			}
			err = s.putBlob(rc, desc.Digest, prog)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
		if err := s.layer(ctx, desc, diffID, meta.Privileged); err != nil {
			return nil, err
		}
	}
	// The manifest goes last: a manifest blob in the store means its
	// config and layers are there too.
	if err := s.putBlob(bytes.NewReader(rawManifest), digest, nil); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := writeFile(s.path("images", digest.Hex+".json"), b, "image"); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) hasBlob(digest string) bool {
	h, err := hexOf(digest)
	if err != nil {
		return false
	}
	_, err = os.Stat(s.path("blobs", "sha256", h))
	return err == nil
}

// putBlob stores r as blobs/sha256/HEX if it hashes to want.
func (s *Store) putBlob(r io.Reader, want v1.Hash, prog *progress) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are supported", want)
	}
	if _, err := hexOf(want.String()); err != nil {
		return err
	}
	final := s.path("blobs", "sha256", want.Hex)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp := tmpName(s.path("blobs", "sha256"), final)
	crash.Point("blob.create")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	h := sha256.New()
	var w io.Writer = io.MultiWriter(f, h)
	if prog != nil {
		w = io.MultiWriter(w, prog)
	}
	crash.Point("blob.write")
	if _, err := io.Copy(w, r); err != nil {
		return fail(fmt.Errorf("fetching blob %s: %w", want, err))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return fail(fmt.Errorf("blob %s: content hashes to %s: the source is corrupt or was tampered with", want, got))
	}
	crash.Point("blob.fsync")
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("syncing %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	crash.Point("blob.rename")
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return syncDir(s.path("blobs", "sha256"), "blob")
}

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
	if err := syncFS(tmp, "layer"); err != nil {
		return err
	}
	crash.Point("layer.rename")
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("publishing layer %s: %w", diffID, err)
	}
	return syncDir(s.path("layers"), "layer")
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

type progress struct {
	fn          func(done, total int64)
	done, total int64
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.report()
	return len(b), nil
}

func (p *progress) report() {
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}
