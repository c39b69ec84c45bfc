package builder

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/remotecache"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/trust"
)

// WithCacheRegistry shares built packages through a registry: before
// building a package whose key is not in the local cache, Build looks up
// REPO/cache/NAME:<hex of the build key> and, if that entry is signed by
// one of the keys given with WithCacheKeys (or the WithCachePush signer),
// puts it into the local cache instead of building it (the package is
// then reported under Cached). An entry that does not verify is ignored
// with a warning and the package is built. repo is "REGISTRY/PREFIX", as
// for WithPush. With WithSigning, the build also pushes its packages
// there, signed by the same key (see WithCachePush). Default: no
// registry cache.
func WithCacheRegistry(repo string) Option {
	return func(c *config) error {
		repo = strings.TrimSuffix(repo, "/")
		if _, err := name.NewRepository(repo + "/cache/x"); err != nil {
			return fmt.Errorf("cache registry %q is not REGISTRY/PREFIX (like 127.0.0.1:5000/undistro): %w", repo, err)
		}
		c.cacheRepo = repo
		return nil
	}
}

// WithCacheKeys adds trusted signers of registry cache entries: PEM public
// keys (cosign .pub files; one may hold several). A cache entry is pulled
// only if one of them signed it. Default: none (only the WithCachePush
// signer's own entries are trusted).
func WithCacheKeys(pems ...[]byte) Option {
	return func(c *config) error {
		if len(pems) == 0 {
			return errors.New("WithCacheKeys: no key given")
		}
		for i, b := range pems {
			keys, err := trust.Parse(b)
			if err != nil {
				return fmt.Errorf("cache key #%d: %w", i+1, err)
			}
			c.cacheKeys = append(c.cacheKeys, keys...)
		}
		return nil
	}
}

// WithCacheKeyFiles is WithCacheKeys reading each key from a file.
func WithCacheKeyFiles(paths ...string) Option {
	return func(c *config) error {
		if len(paths) == 0 {
			return errors.New("WithCacheKeyFiles: no key file given")
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("reading cache key: %w", err)
			}
			keys, err := trust.Parse(b)
			if err != nil {
				return fmt.Errorf("cache key %s: %w (want a cosign .pub file: `undistro key generate` writes one)", p, err)
			}
			c.cacheKeys = append(c.cacheKeys, keys...)
		}
		return nil
	}
}

// WithCachePush pushes every package of the plan that was not pulled from
// the cache registry (built now or found in the local cache) to the
// registry given with WithCacheRegistry, signed by s, and trusts s's
// public key for pulls. A failed push fails the build. Default: nothing
// is pushed. s must not be nil.
func WithCachePush(s *sign.Signer) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("WithCachePush: signer must not be nil")
		}
		k, err := s.PublicKey()
		if err != nil {
			return fmt.Errorf("cache push signer: %w", err)
		}
		c.cachePush = s
		c.cachePushKey = k
		return nil
	}
}

// cachePushFromSigning makes a build that signs its images (WithSigning)
// and uses a registry cache push its packages there too, signed by the
// same key, unless WithCachePush named another signer.
func (c *config) cachePushFromSigning() error {
	if c.cacheRepo == "" || c.signKey == "" || c.cachePush != nil {
		return nil
	}
	s, err := sign.NewSigner(c.signKey, c.signPass)
	if err != nil {
		return fmt.Errorf("loading signing key %s for the registry cache: %w", c.signKey, err)
	}
	return WithCachePush(s)(c)
}

// checkCacheOptions validates the registry cache options together.
func (c *config) checkCacheOptions() error {
	switch {
	case c.cacheRepo == "" && (len(c.cacheKeys) > 0 || c.cachePush != nil):
		return errors.New("--cache-key needs --cache-registry REGISTRY/PREFIX (so does a cache push)")
	case c.cacheRepo != "" && len(c.cacheKeys) == 0 && c.cachePush == nil:
		return fmt.Errorf("cache registry %s: no trusted key: pass --cache-key PUB (the public key of the builder that pushes), or --sign-key to push", c.cacheRepo)
	}
	return nil
}

// cacheTrusted is every key a pulled entry may be signed by.
func (c *config) cacheTrusted() []crypto.PublicKey {
	keys := append([]crypto.PublicKey{}, c.cacheKeys...)
	if c.cachePushKey != nil {
		keys = append(keys, c.cachePushKey)
	}
	return keys
}

// remoteCache opens the registry cache, or returns nil without one.
func (c *config) remoteCache() (*remotecache.Store, error) {
	if c.cacheRepo == "" {
		return nil, nil
	}
	opts := []remotecache.Option{remotecache.WithKeys(c.cacheTrusted()...)}
	if c.cachePush != nil {
		opts = append(opts, remotecache.WithSigner(c.cachePush))
	}
	return remotecache.New(c.cacheRepo, opts...)
}

// pull takes u from the registry cache if a trusted entry is there. An
// entry that does not verify is not an error: it is logged and u is built.
// After a failure that is not the entry's (the registry is unreachable,
// refuses us, or the disk is full) the run stops asking the registry, so
// an outage costs one warning and one timeout, not one per package.
func (b *runner) pull(ctx context.Context, u *unit, i, n int) (bool, error) {
	if b.remote == nil || b.noPull {
		return false, nil
	}
	e, err := b.remote.Pull(ctx, b.pkgs, u.name, u.key, u.recipe.Privileged)
	switch {
	case err == nil:
		b.say("[%d/%d] pulled %s %s from the cache registry", i, n, u.name, u.recipe.Version)
		b.entries[u.key] = e
		b.pulled[u.key] = true
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, remotecache.ErrNotFound):
		logctx.From(ctx).DebugContext(ctx, "not in the cache registry", "package", u.name, "key", u.key)
	case errors.Is(err, remotecache.ErrUntrusted), errors.Is(err, remotecache.ErrInvalid):
		logctx.From(ctx).WarnContext(ctx, "ignoring the cache registry's entry: building from source", "package", u.name, "key", u.key, "err", err)
	default:
		logctx.From(ctx).WarnContext(ctx, "cache registry unavailable: building from source, no more pulls in this run", "package", u.name, "err", err)
		b.noPull = true
	}
	return false, nil
}

// push sends u's entry to the registry cache when pushing is on.
func (b *runner) push(ctx context.Context, u *unit, e *cache.Entry) error {
	if b.remote == nil || b.cfg.cachePush == nil {
		return nil
	}
	b.say("cache registry: %s %s (pushed and signed unless already there)", u.name, u.recipe.Version)
	if _, err := b.remote.Push(ctx, b.pkgs, u.name, e); err != nil {
		return fmt.Errorf("%s: %w", u.recipe.File, err)
	}
	return nil
}
