package peerreg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// Attachments keeps, under one directory, the cosign signature and
// attestation images of the images a node verified, so it can serve them
// to peers: DIR/blobs/sha256/HEX holds their manifests, configs and layers,
// DIR/IMAGEHEX.json which of them belong to one image.
type Attachments struct{ dir string }

// attachRecord is DIR/IMAGEHEX.json.
type attachRecord struct {
	// Manifests maps "sig" and "att" to the attachment manifest digest.
	Manifests map[string]string `json:"manifests"`
	// Blobs are every blob the attachments consist of, manifests included.
	Blobs []string `json:"blobs"`
}

// maxAttachment bounds one attachment blob (as runtime/policy does).
const maxAttachment = 4 << 20

// OpenAttachments returns the attachment store at dir (created on first
// write).
func OpenAttachments(dir string) *Attachments { return &Attachments{dir: dir} }

// Fetch reads the cosign attachment images ("sig", "att") of digest in
// repo through ro and keeps them; an attachment the registry does not have
// is skipped. Every blob is checked against its digest before it is kept.
func (a *Attachments) Fetch(ctx context.Context, repo name.Repository, digest string, ro ...remote.Option) error {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || !digestRE.MatchString(digest) {
		return fmt.Errorf("keeping attachments: bad digest %q", digest)
	}
	ro = append([]remote.Option{remote.WithContext(ctx)}, ro...)
	rec := attachRecord{Manifests: map[string]string{}}
	for _, kind := range []string{"sig", "att"} {
		tag := repo.Tag("sha256-" + h + "." + kind)
		desc, err := remote.Get(tag, ro...)
		if err != nil {
			var te *transport.Error
			if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
				continue
			}
			return fmt.Errorf("fetching %s: %w", tag, err)
		}
		if len(desc.Manifest) > maxAttachment {
			return fmt.Errorf("fetching %s: manifest of %d bytes", tag, len(desc.Manifest))
		}
		m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return fmt.Errorf("parsing %s: %w", tag, err)
		}
		if err := a.put(desc.Digest, int64(len(desc.Manifest)), bytes.NewReader(desc.Manifest)); err != nil {
			return err
		}
		rec.Manifests[kind] = desc.Digest.String()
		rec.Blobs = append(rec.Blobs, desc.Digest.String())
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if d.Size > maxAttachment || d.Size < 0 {
				return fmt.Errorf("fetching %s: blob %s of %d bytes is more than an attachment can be", tag, d.Digest, d.Size)
			}
			if err := a.fetchBlob(repo, d, ro); err != nil {
				return fmt.Errorf("fetching %s: %w", tag, err)
			}
			rec.Blobs = append(rec.Blobs, d.Digest.String())
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(a.dir, h+".json"), b, 0o644, atomicfile.Step("attachments")); err != nil {
		return fmt.Errorf("keeping attachments of %s: %w", digest, err)
	}
	return nil
}

func (a *Attachments) fetchBlob(repo name.Repository, d v1.Descriptor, ro []remote.Option) error {
	if _, err := os.Stat(a.blobPath(d.Digest.Hex)); err == nil {
		return nil
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), ro...)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	return a.put(d.Digest, d.Size, rc)
}

func (a *Attachments) put(d v1.Hash, size int64, r io.Reader) error {
	if d.Algorithm != "sha256" || !digestRE.MatchString(d.String()) {
		return fmt.Errorf("blob %s: only sha256 digests are kept", d)
	}
	if err := os.MkdirAll(filepath.Join(a.dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("keeping attachments: %w", err)
	}
	if err := atomicfile.WriteBlob(a.blobPath(d.Hex), r, d.Hex, size, 0o444, atomicfile.Step("attachments.blob")); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	return nil
}

func (a *Attachments) blobPath(hex string) string {
	return filepath.Join(a.dir, "blobs", "sha256", hex)
}

func (a *Attachments) record(image string) (*attachRecord, error) {
	h, ok := strings.CutPrefix(image, "sha256:")
	if !ok || !digestRE.MatchString(image) {
		return nil, fmt.Errorf("bad digest %q: %w", image, fs.ErrNotExist)
	}
	b, err := os.ReadFile(filepath.Join(a.dir, h+".json"))
	if err != nil {
		return nil, err
	}
	var r attachRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading attachments of %s: %w", image, err)
	}
	return &r, nil
}

// Manifest returns the digest of image's attachment manifest of kind
// ("sig" or "att"), or an error wrapping fs.ErrNotExist.
func (a *Attachments) Manifest(image, kind string) (string, error) {
	r, err := a.record(image)
	if err != nil {
		return "", err
	}
	d, ok := r.Manifests[kind]
	if !ok {
		return "", fmt.Errorf("no %s attachment of %s: %w", kind, image, fs.ErrNotExist)
	}
	return d, nil
}

// Blobs returns the digests of every blob of image's attachments (none
// when it has none kept).
func (a *Attachments) Blobs(image string) []string {
	r, err := a.record(image)
	if err != nil {
		return nil
	}
	return r.Blobs
}

// Open opens a kept attachment blob.
func (a *Attachments) Open(digest string) (*os.File, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || !digestRE.MatchString(digest) {
		return nil, fmt.Errorf("bad digest %q: %w", digest, fs.ErrNotExist)
	}
	return os.Open(a.blobPath(h))
}

// Prune removes the records of images keep says no to, and blobs no
// remaining record names.
func (a *Attachments) Prune(keep func(image string) bool) error {
	ents, err := os.ReadDir(a.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pruning attachments: %w", err)
	}
	used := map[string]bool{}
	for _, e := range ents {
		h, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || atomicfile.IsTemp(e.Name()) {
			continue
		}
		image := "sha256:" + h
		if !keep(image) {
			if err := os.Remove(filepath.Join(a.dir, e.Name())); err != nil {
				return fmt.Errorf("pruning attachments: %w", err)
			}
			continue
		}
		for _, b := range a.Blobs(image) {
			used[strings.TrimPrefix(b, "sha256:")] = true
		}
	}
	blobs, err := os.ReadDir(filepath.Join(a.dir, "blobs", "sha256"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pruning attachments: %w", err)
	}
	for _, b := range blobs {
		if !used[b.Name()] {
			if err := os.Remove(a.blobPath(b.Name())); err != nil {
				return fmt.Errorf("pruning attachments: %w", err)
			}
		}
	}
	return nil
}
