package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("image not in the store")
	ErrAmbiguous  = errors.New("digest prefix matches several images")
	ErrNoCurrent  = errors.New("no current image: switch to one first")
	ErrNoPrevious = errors.New("no previous image to roll back to")
)

// Image is one image in the store.
type Image struct {
	Digest string           // manifest digest, "sha256:…"
	Ref    string           // what it was pulled as
	Meta   *imagespec.Image // undistro metadata from the config label
	Config *v1.ConfigFile
	Layers []string // diffIDs, bottom first
	// Blobs are the compressed layer digests, bottom first.
	Blobs []string
	// ConfigDigest is the digest of the config blob.
	ConfigDigest string
	Size         int64     // manifest + config + compressed layers, bytes
	Pulled       time.Time // when it was first pulled
}

// record is images/HEX.json.
type record struct {
	Digest       string    `json:"digest"`
	Ref          string    `json:"ref"`
	ConfigDigest string    `json:"config"`
	Layers       []string  `json:"layers"`
	Blobs        []string  `json:"blobs"`
	Size         int64     `json:"size"`
	Pulled       time.Time `json:"pulled"`
}

// Store is a node's image store. Its methods are safe for concurrent use;
// writers also exclude other processes with a lock file.
type Store struct {
	root string
	mu   sync.Mutex
	lock *os.File
	// derives: a switch derives the new root from the current one (see
	// derive); as root only, since the tree's read-only directories
	// would stop anyone else changing them in place.
	derives bool
}

// Open opens the store at root, creating its layout, and finishes or undoes
// an operation a crash interrupted. Close releases it.
func Open(ctx context.Context, root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("opening store: empty root: pass --root or set UNDISTRO_ROOT")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", root, err)
	}
	// The root is the owner's alone: other users can neither read the
	// store nor open (and so hold) its lock.
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", abs, err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("restricting store %s to its owner: %w", abs, err)
	}
	for _, d := range []string{"blobs/sha256", "layers", "images", "roots", "partial"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating store layout: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(abs, "lock"), os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	if err := lock.Chmod(0o600); err != nil {
		lock.Close()
		return nil, fmt.Errorf("restricting store lock: %w", err)
	}
	s := &Store{root: abs, lock: lock, derives: os.Geteuid() == 0}
	unlock, err := s.acquire(ctx)
	if err != nil {
		lock.Close()
		return nil, err
	}
	defer unlock()
	if err := s.recover(ctx); err != nil {
		lock.Close()
		return nil, fmt.Errorf("recovering store %s: %w", abs, err)
	}
	return s, nil
}

// Close releases the store's lock file.
func (s *Store) Close() error { return s.lock.Close() }

// Root returns the store's absolute root directory.
func (s *Store) Root() string { return s.root }

// acquire takes the in-process mutex and the cross-process lock (see
// lock.go). It gives up when ctx ends, naming who holds the lock.
func (s *Store) acquire(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if err := s.lockFile(ctx); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return func() {
		s.unlockFile()
		s.mu.Unlock()
	}, nil
}

func (s *Store) path(parts ...string) string {
	return filepath.Join(append([]string{s.root}, parts...)...)
}

// hexOf checks a "sha256:HEX" digest and returns HEX.
func hexOf(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("bad digest %q: want sha256: and 64 lowercase hex digits", digest)
	}
	return h, nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// resolve turns "sha256:HEX", "HEX" or a unique prefix of HEX (at least 4
// digits) into the digest of an image in the store.
func (s *Store) resolve(digest string) (string, error) {
	h := strings.TrimPrefix(digest, "sha256:")
	if len(h) == 64 {
		if _, err := hexOf("sha256:" + h); err != nil {
			return "", err
		}
		if _, err := os.Stat(s.path("images", h+".json")); err != nil {
			return "", fmt.Errorf("%w: %s", ErrNotFound, digest)
		}
		return "sha256:" + h, nil
	}
	if len(h) < 4 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %q is not a digest or a prefix of at least 4 hex digits", ErrNotFound, digest)
	}
	ents, err := os.ReadDir(s.path("images"))
	if err != nil {
		return "", fmt.Errorf("reading images: %w", err)
	}
	var found []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && strings.HasPrefix(name, h) {
			found = append(found, "sha256:"+name)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, digest)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %s matches %s", ErrAmbiguous, digest, strings.Join(found, ", "))
}

func (s *Store) readRecord(digest string) (*record, error) {
	h, err := hexOf(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path("images", h+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("reading image record: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding image record %s: %w", digest, err)
	}
	return &r, nil
}

// readBlob reads a small blob and verifies it against its digest.
func (s *Store) readBlob(digest string) ([]byte, error) {
	h, err := hexOf(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path("blobs", "sha256", h))
	if err != nil {
		return nil, fmt.Errorf("reading blob: %w", err)
	}
	if got := sha256Digest(b); got != digest {
		return nil, fmt.Errorf("blob %s is corrupt (content hashes to %s): remove it and pull again", digest, got)
	}
	return b, nil
}

// Image returns the image with this digest ("sha256:HEX", HEX or a unique
// prefix of HEX). The error matches ErrNotFound when there is none.
func (s *Store) Image(digest string) (*Image, error) {
	d, err := s.resolve(digest)
	if err != nil {
		return nil, err
	}
	r, err := s.readRecord(d)
	if err != nil {
		return nil, err
	}
	return s.image(r)
}

func (s *Store) image(r *record) (*Image, error) {
	raw, err := s.readBlob(r.ConfigDigest)
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", r.Digest, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing config of %s: %w", r.Digest, err)
	}
	meta, err := imagespec.Decode(cf.Config.Labels)
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", r.Digest, err)
	}
	return &Image{Digest: r.Digest, Ref: r.Ref, Meta: meta, Config: cf, Layers: r.Layers, Blobs: r.Blobs,
		ConfigDigest: r.ConfigDigest, Size: r.Size, Pulled: r.Pulled}, nil
}

func (s *Store) records() ([]*record, error) {
	ents, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, fmt.Errorf("reading images: %w", err)
	}
	var out []*record
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || atomicfile.IsTemp(name) {
			continue
		}
		r, err := s.readRecord("sha256:" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *record) int {
		return cmp.Or(b.Pulled.Compare(a.Pulled), strings.Compare(a.Digest, b.Digest))
	})
	return out, nil
}

// List returns every image in the store, newest pull first.
func (s *Store) List() ([]*Image, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(recs))
	for _, r := range recs {
		img, err := s.image(r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}
