package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Source is an image resolved from a reference but not in the store yet:
// its manifest and config have been read and checked against their
// digests; no layer has been fetched and nothing has been written. A node
// checks a Source (signature, role, age) before it lets Add fetch and
// unpack the layers.
type Source struct {
	// Ref is the reference as given; Digest the manifest digest.
	Ref    string
	Digest string
	// Meta is the undistro metadata of the config; Config the config.
	Meta   *imagespec.Image
	Config *v1.ConfigFile

	img         v1.Image
	hash        v1.Hash
	manifest    *v1.Manifest
	rawManifest []byte
	rawConfig   []byte
}

// Resolve reads the manifest and config of the image ref names: a registry
// reference ("host[:port]/repo:tag", "host/repo@sha256:…") or
// "oci:PATH[:ROLE]", ROLE being the org.opencontainers.image.ref.name
// annotation (omitted: the layout's only image). It writes nothing.
func Resolve(ctx context.Context, ref string, opts ...PullOption) (*Source, error) {
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
	src, err := read(ref, img, digest)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	return src, nil
}

func read(ref string, img v1.Image, digest v1.Hash) (*Source, error) {
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
	return &Source{Ref: ref, Digest: digest.String(), Meta: meta, Config: cf,
		img: img, hash: digest, manifest: m, rawManifest: rawManifest, rawConfig: rawConfig}, nil
}

// Pull is Resolve then Add: it fetches the image ref names into the store
// without any check beyond digests. A node verifies between the two.
func (s *Store) Pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	src, err := Resolve(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	return s.Add(ctx, src, opts...)
}

// Add fetches src's config and layers into the store, verifying every blob
// against its digest and every layer against its diffID, and returns the
// image; layers already in the store are neither fetched nor unpacked again.
// Adding an image already in the store returns it. Of opts only
// WithLayerFetcher and WithProgress apply.
func (s *Store) Add(ctx context.Context, src *Source, opts ...PullOption) (*Image, error) {
	var o pullOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	unlock, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r, err := s.readRecord(src.Digest); err == nil {
		return s.image(r)
	}
	if err := s.begin(journal{Op: "pull", Target: src.Digest}); err != nil {
		return nil, err
	}
	r, err := s.pull(ctx, src, &o)
	if err != nil {
		_ = s.end() // what was verified stays (content-addressed); temporaries are gone
		return nil, fmt.Errorf("pulling %s: %w", src.Ref, err)
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return s.image(r)
}

func (s *Store) pull(ctx context.Context, src *Source, o *pullOptions) (*record, error) {
	m, cf, meta, img := src.manifest, src.Config, src.Meta, src.img
	r := &record{Digest: src.Digest, Ref: src.Ref, ConfigDigest: m.Config.Digest.String(),
		Size: int64(len(src.rawManifest)) + m.Config.Size, Pulled: time.Now().UTC()}
	prog := &progress{fn: o.progress}
	for _, l := range m.Layers {
		r.Size += l.Size
		if !s.hasBlob(l.Digest.String()) {
			prog.total += l.Size
		}
	}
	prog.report()
	if err := s.putBlob(bytes.NewReader(src.rawConfig), m.Config.Digest, int64(len(src.rawConfig)), nil); err != nil {
		return nil, err
	}
	for i, desc := range m.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		diffID := cf.RootFS.DiffIDs[i]
		r.Layers = append(r.Layers, diffID.String())
		r.Blobs = append(r.Blobs, desc.Digest.String())
		if !s.hasBlob(desc.Digest.String()) && o.fetch != nil {
			err := o.fetch(ctx, src, desc, s.adopt(src))
			if err == nil && !s.hasBlob(desc.Digest.String()) {
				err = fmt.Errorf("the layer fetcher did not store layer %s", desc.Digest)
			}
			if err != nil && !errors.Is(err, ErrNotFetched) {
				return nil, fmt.Errorf("fetching layer %s: %w", desc.Digest, err)
			}
			if err == nil {
				prog.done += desc.Size
				prog.report()
			}
		}
		if !s.hasBlob(desc.Digest.String()) {
			l, err := img.LayerByDigest(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", desc.Digest, err)
			}
			rc, err := l.Compressed()
			if err != nil {
				return nil, fmt.Errorf("fetching layer %s: %w", desc.Digest, err)
			}
			err = s.putBlob(rc, desc.Digest, desc.Size, prog)
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
	if err := s.putBlob(bytes.NewReader(src.rawManifest), src.hash, int64(len(src.rawManifest)), nil); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := writeFile(s.path("images", src.hash.Hex+".json"), b, "image"); err != nil {
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

// putBlob stores r as blobs/sha256/HEX if it is size bytes long and hashes
// to want.
func (s *Store) putBlob(r io.Reader, want v1.Hash, size int64, prog *progress) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are supported", want)
	}
	if _, err := hexOf(want.String()); err != nil {
		return err
	}
	if prog != nil {
		r = io.TeeReader(r, prog)
	}
	if err := atomicfile.WriteBlob(s.path("blobs", "sha256", want.Hex), r, want.Hex, size, 0o444, atomicfile.Step("blob")); err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	return nil
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
