package remotecache

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/image"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/policy"
)

// Media types and annotations of a cache entry.
const (
	// ConfigMediaType is the entry's config blob: the cache.Entry JSON.
	ConfigMediaType = "application/vnd.undistro.package.config.v1+json"
	// KeyAnnotation on the manifest holds the full build key.
	KeyAnnotation = "dev.undistro.build-key"
	// PackageAnnotation on the manifest holds the package name.
	PackageAnnotation = "dev.undistro.package"
	// maxConfig bounds the metadata blob read from a registry.
	maxConfig = 64 << 20
	// maxManifest bounds the manifest read from a registry.
	maxManifest = 4 << 20
)

// Errors Pull returns (wrapped); callers branch on them with errors.Is.
var (
	// ErrNotFound: the registry has no entry for the key.
	ErrNotFound = errors.New("no cache entry")
	// ErrUntrusted: the entry is not signed by a trusted key, or its
	// signature names another digest or repository.
	ErrUntrusted = errors.New("cache entry not signed by a trusted key")
	// ErrInvalid: the entry is signed but malformed or its blobs do not
	// match their digests.
	ErrInvalid = errors.New("invalid cache entry")
)

// Store is a registry cache of built packages under one repository prefix.
type Store struct {
	repo   string
	keys   []crypto.PublicKey
	signer *sign.Signer
	remote []remote.Option
}

// Option configures New.
type Option func(*Store) error

// WithKeys sets the public keys whose signatures Pull accepts. Default:
// none, and Pull refuses every entry.
func WithKeys(keys ...crypto.PublicKey) Option {
	return func(s *Store) error {
		for _, k := range keys {
			if k == nil {
				return errors.New("remotecache: nil public key")
			}
		}
		s.keys = append(s.keys, keys...)
		return nil
	}
}

// WithSigner sets the key Push signs entries with. Default: none, and Push
// fails.
func WithSigner(sg *sign.Signer) Option {
	return func(s *Store) error {
		if sg == nil {
			return errors.New("remotecache: nil signer")
		}
		s.signer = sg
		return nil
	}
}

// WithRemoteOptions adds go-containerregistry options (transport, auth)
// for the entries' manifests and blobs; signatures are read and written
// with the Docker config keychain. Default: credentials from the Docker
// config keychain.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(s *Store) error {
		if len(opts) == 0 {
			return errors.New("remotecache: WithRemoteOptions: no options given")
		}
		s.remote = append(s.remote, opts...)
		return nil
	}
}

// New returns the cache under repo ("REGISTRY/PREFIX"): entries are at
// repo/cache/NAME:HEX.
func New(repo string, opts ...Option) (*Store, error) {
	repo = strings.TrimSuffix(repo, "/")
	if _, err := name.NewRepository(repo + "/cache/x"); err != nil {
		return nil, fmt.Errorf("cache registry %q is not REGISTRY/PREFIX: %w", repo, err)
	}
	s := &Store{repo: repo, remote: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Ref returns the tag of package pkg's entry for build key key.
func (s *Store) Ref(pkg, key string) (name.Tag, error) {
	hexKey, ok := strings.CutPrefix(key, "sha256:")
	if !ok || len(hexKey) != 64 || strings.Trim(hexKey, "0123456789abcdef") != "" {
		return name.Tag{}, fmt.Errorf("build key %q is not sha256:<64 hex digits>", key)
	}
	t, err := name.NewTag(s.repo + "/cache/" + pkg + ":" + hexKey)
	if err != nil {
		return name.Tag{}, fmt.Errorf("package name %q cannot be a repository name: %w", pkg, err)
	}
	return t, nil
}

func (s *Store) opts(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, s.remote...)
}

// Push uploads the cached package e (named pkg) from c and signs its
// manifest digest with the Store's signer. Blobs the registry has are not
// sent again, and an entry the registry already holds under its tag with
// a valid signature by this signer is left as it is (no write). It
// returns the manifest digest.
func (s *Store) Push(ctx context.Context, c *cache.Cache, pkg string, e *cache.Entry) (string, error) {
	if s.signer == nil {
		return "", errors.New("pushing to the cache registry: no signing key")
	}
	tag, err := s.Ref(pkg, e.Key)
	if err != nil {
		return "", err
	}
	ro := s.opts(ctx)
	meta, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encoding cache metadata of %s: %w", pkg, err)
	}
	raw, err := manifestOf(pkg, e, meta)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if s.pushed(ctx, tag, digest, ro) {
		logctx.From(ctx).DebugContext(ctx, "cache entry already pushed and signed", "ref", tag.String(), "digest", digest)
		return digest, nil
	}
	cfg := static.NewLayer(meta, ConfigMediaType)
	blob, err := image.FileLayer(c.LayerPath(e), e.Layer)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", pkg, err)
	}
	for _, l := range []v1.Layer{cfg, blob} {
		if err := remote.WriteLayer(tag.Context(), l, ro...); err != nil {
			return "", fmt.Errorf("pushing %s to %s: %w", pkg, tag.Context(), err)
		}
	}
	if err := remote.Put(tag, rawManifest(raw), ro...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", tag, err)
	}
	if _, err := s.signer.Sign(ctx, tag.Context().Name()+"@"+digest); err != nil {
		return "", fmt.Errorf("signing cache entry %s: %w", tag, err)
	}
	logctx.From(ctx).DebugContext(ctx, "pushed cache entry", "ref", tag.String(), "digest", digest)
	return digest, nil
}

// pushed reports whether tag already names digest in the registry with a
// signature by the Store's signer, so a push would change nothing: a build
// that finds its packages in the local cache then costs the registry a
// few reads, not a re-upload and a re-signature per package. Any doubt
// (an error, another digest, no valid signature) means push.
func (s *Store) pushed(ctx context.Context, tag name.Tag, digest string, ro []remote.Option) bool {
	d, err := remote.Head(tag, ro...)
	if err != nil || d.Digest.String() != digest {
		return false
	}
	pub, err := s.signer.PublicKey()
	if err != nil {
		return false
	}
	pol := &policy.Policy{Keys: []crypto.PublicKey{pub}}
	_, err = pol.Verify(ctx, tag.Context().Name()+"@"+digest, digest)
	return err == nil
}

// manifestOf is the entry's OCI manifest: deterministic, so pushing the
// same package twice gives the same digest.
func manifestOf(pkg string, e *cache.Entry, meta []byte) ([]byte, error) {
	msum := sha256.Sum256(meta)
	ld, err := v1.NewHash(e.Layer.Digest)
	if err != nil {
		return nil, fmt.Errorf("cache entry of %s: layer digest: %w", pkg, err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: ConfigMediaType, Size: int64(len(meta)),
			Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(msum[:])}},
		Layers:      []v1.Descriptor{{MediaType: types.OCILayer, Size: e.Layer.Size, Digest: ld}},
		Annotations: map[string]string{KeyAnnotation: e.Key, PackageAnnotation: pkg},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding cache manifest of %s: %w", pkg, err)
	}
	return b, nil
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// Pull looks up package pkg's entry for key, verifies it (signature by a
// trusted key, every digest) and imports it into c; privileged are the
// paths allowed setuid/setgid bits (the recipe's). Its errors wrap
// ErrNotFound, ErrUntrusted or ErrInvalid, or are registry errors.
func (s *Store) Pull(ctx context.Context, c *cache.Cache, pkg, key string, privileged []string) (*cache.Entry, error) {
	tag, err := s.Ref(pkg, key)
	if err != nil {
		return nil, err
	}
	ro := s.opts(ctx)
	desc, err := remote.Get(tag, ro...)
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: %w", tag, ErrNotFound)
		}
		return nil, fmt.Errorf("looking up %s: %w", tag, err)
	}
	if len(desc.Manifest) > maxManifest {
		return nil, fmt.Errorf("%s: manifest of %d bytes: %w", tag, len(desc.Manifest), ErrInvalid)
	}
	// The digest signed is that of the bytes read, whatever the registry says.
	sum := sha256.Sum256(desc.Manifest)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if len(s.keys) == 0 {
		return nil, fmt.Errorf("%s: no trusted key: %w", tag, ErrUntrusted)
	}
	pol := &policy.Policy{Keys: s.keys}
	if _, err := pol.Verify(ctx, tag.Context().Name()+"@"+digest, digest); err != nil {
		var perr *policy.Error
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s: %w: %v", tag, ErrUntrusted, err)
		}
		return nil, fmt.Errorf("verifying %s: %w", tag, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: parsing manifest: %v", tag, ErrInvalid, err)
	}
	if m.Config.MediaType != ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		return nil, fmt.Errorf("%s: %w: not an undistro package (config %s, %d layers)", tag, ErrInvalid, m.Config.MediaType, len(m.Layers))
	}
	if m.Config.Size < 0 || m.Config.Size > maxConfig {
		return nil, fmt.Errorf("%s: %w: metadata of %d bytes", tag, ErrInvalid, m.Config.Size)
	}
	meta, err := readBlob(tag.Context(), m.Config, ro)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tag, err)
	}
	var e cache.Entry
	if err := json.Unmarshal(meta, &e); err != nil {
		return nil, fmt.Errorf("%s: %w: metadata: %v", tag, ErrInvalid, err)
	}
	l := m.Layers[0]
	if e.Key != key || e.Layer.Digest != l.Digest.String() || e.Layer.Size != l.Size {
		return nil, fmt.Errorf("%s: %w: metadata (key %s, layer %s) does not describe this entry", tag, ErrInvalid, e.Key, e.Layer.Digest)
	}
	rl, err := remote.Layer(tag.Context().Digest(l.Digest.String()), ro...)
	if err != nil {
		return nil, fmt.Errorf("fetching layer of %s: %w", tag, err)
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching layer of %s: %w", tag, err)
	}
	defer rc.Close()
	got, err := c.Import(ctx, key, rc, e.Layer, privileged)
	if errors.Is(err, cache.ErrMismatch) {
		return nil, fmt.Errorf("%s: %w: %v", tag, ErrInvalid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", tag, err)
	}
	logctx.From(ctx).DebugContext(ctx, "pulled cache entry", "ref", tag.String(), "digest", digest)
	return got, nil
}

// readBlob reads a small blob and checks its size and digest.
func readBlob(repo name.Repository, d v1.Descriptor, ro []remote.Option) ([]byte, error) {
	l, err := remote.Layer(repo.Digest(d.Digest.String()), ro...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.Digest, err)
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != d.Size || d.Digest.Algorithm != "sha256" || hex.EncodeToString(sum[:]) != d.Digest.Hex {
		return nil, fmt.Errorf("%w: blob %s does not match its digest or size", ErrInvalid, d.Digest)
	}
	return b, nil
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
