package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/imagespec"
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
	if err := s.putBlob(bytes.NewReader(rawConfig), m.Config.Digest, int64(len(rawConfig)), nil); err != nil {
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
	if err := s.putBlob(bytes.NewReader(rawManifest), digest, int64(len(rawManifest)), nil); err != nil {
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
