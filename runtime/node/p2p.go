package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/store"
)

// ErrNoP2P: the daemon runs without a BitTorrent client (--p2p off), or no
// daemon runs.
var ErrNoP2P = errors.New("no BitTorrent client: run the daemon (undistro node run) with --p2p ADDR")

// BitTorrent configures the daemon's BitTorrent client (Config.BitTorrent).
// Layers of verified images whose descriptors carry an infohash
// (btmeta.Annotation) are fetched from the fleet, with the registry as web
// seed, and every such stored blob is seeded.
type BitTorrent struct {
	// Listen is the peer address ("" or "off": no client).
	Listen string
	// Peers, Trackers, Allow, UploadRate and DownloadRate: see p2p.Config.
	Peers                    []string
	Trackers                 []string
	Allow                    []string
	UploadRate, DownloadRate int64
	// WebSeedDelay: see p2p.Config (zero: its default).
	WebSeedDelay time.Duration
	// Optional: if the client cannot start (its port is taken), the daemon
	// runs without it, saying so, instead of failing.
	Optional bool
}

// Enabled reports whether the daemon runs a client.
func (b BitTorrent) Enabled() bool { return b.Listen != "" && b.Listen != "off" }

// startP2P starts the client and seeds the stored images' layers.
func (n *Node) startP2P(ctx context.Context) (func(), error) {
	b := n.cfg.BitTorrent
	if !b.Enabled() {
		return func() {}, nil
	}
	cfg := p2p.Config{Listen: b.Listen, Peers: b.Peers, Trackers: b.Trackers,
		UploadRate: b.UploadRate, DownloadRate: b.DownloadRate, WebSeedDelay: b.WebSeedDelay,
		PartialDir: n.st.PartialDir(), InfoDir: filepath.Join(n.cfg.Root, "p2p", "info")}
	if len(b.Allow) > 0 {
		allow, err := p2p.ParseAllow(strings.Join(b.Allow, ","))
		if err != nil {
			return nil, err
		}
		cfg.Allow = allow
	}
	c, err := p2p.New(ctx, cfg)
	if err != nil && b.Optional {
		logctx.From(ctx).Warn("running without the p2p client: layers come from registries only", "err", err)
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	n.bt.Store(c)
	logctx.From(ctx).Info("p2p client running", "addr", c.Addr().String(), "peers", len(b.Peers))
	go func() {
		if err := n.seedAll(ctx); err != nil && ctx.Err() == nil {
			logctx.From(ctx).Warn("seeding stored layers", "err", err)
		}
		trimMemory() // hashing blobs without a cached info paged in buffers
	}()
	return func() {
		n.bt.Store(nil)
		c.Close()
	}, nil
}

// seedAll seeds every annotated layer of every stored image admitted on
// a verified signature.
func (n *Node) seedAll(ctx context.Context) error {
	imgs, err := n.st.List()
	if err != nil {
		return err
	}
	n.stMu.Lock()
	st, err := readState(n.cfg.Root)
	n.stMu.Unlock()
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range imgs {
		if !st.Admitted[img.Digest].Verified() {
			continue
		}
		if err := n.seedImage(ctx, img.Digest); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// seedImage seeds the annotated layers of a stored image; the caller has
// checked its admission was Verified.
func (n *Node) seedImage(ctx context.Context, digest string) error {
	c := n.bt.Load()
	if c == nil {
		return nil
	}
	raw, err := n.st.Manifest(digest)
	if err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("seeding %s: %w", digest, err)
	}
	for _, l := range m.Layers {
		ih, ok, err := btmeta.FromAnnotations(l.Annotations)
		if err != nil {
			return fmt.Errorf("seeding %s: layer %s: %w", digest, l.Digest, err)
		}
		if !ok {
			continue
		}
		p, err := n.st.BlobPath(l.Digest.String())
		if err != nil {
			return fmt.Errorf("seeding %s: %w", digest, err)
		}
		if err := c.Seed(ctx, p2p.Blob{Digest: l.Digest.String(), Size: l.Size, InfoHash: ih, Path: p}); err != nil {
			return err
		}
	}
	return nil
}

// unseedGone stops seeding blobs the store no longer has (after GC).
func (n *Node) unseedGone() {
	c := n.bt.Load()
	if c == nil {
		return
	}
	for _, l := range c.Stats().Layers {
		if !l.Seeding {
			continue
		}
		if _, err := n.st.BlobPath(l.Digest); err != nil {
			if ih, err := btmeta.ParseInfoHash(l.InfoHash); err == nil {
				c.Unseed(ih)
			}
		}
	}
}

// layerFetcher returns the store hook that fetches annotated layers
// through the client, or nil when there is no client. On its first call it
// starts fetching every annotated layer of the image at once (a layer's
// wait for peers overlaps the others'), then hands out each result as the
// store asks for it.
func (n *Node) layerFetcher() store.LayerFetcher {
	c := n.bt.Load()
	if c == nil {
		return nil
	}
	var (
		once    sync.Once
		results map[v1.Hash]chan error
	)
	return func(ctx context.Context, src *store.Source, desc v1.Descriptor, adopt store.Adopt) error {
		if _, ok, err := btmeta.FromAnnotations(desc.Annotations); err != nil {
			return err // the signed manifest is malformed: refuse it
		} else if !ok || desc.Size == 0 || strings.HasPrefix(src.Ref, imagespec.LayoutPrefix) {
			return store.ErrNotFetched // a layout on disk is read directly
		}
		if !c.CanAsk() {
			// No peers, trackers or connections: nobody to ask; the
			// registry path is the same bytes without the wait.
			return store.ErrNotFetched
		}
		once.Do(func() { results = n.fetchAll(ctx, c, src, adopt) })
		res, ok := results[desc.Digest]
		if !ok {
			return store.ErrNotFetched
		}
		select {
		case err := <-res:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fetchAll starts fetching every annotated layer of src the store lacks.
func (n *Node) fetchAll(ctx context.Context, c *p2p.Client, src *store.Source, adopt store.Adopt) map[v1.Hash]chan error {
	webSeed, rt := origin(ctx, src.Ref)
	out := map[v1.Hash]chan error{}
	for _, desc := range src.Layers() {
		ih, ok, err := btmeta.FromAnnotations(desc.Annotations)
		if err != nil || !ok || desc.Size == 0 {
			continue
		}
		if _, err := n.st.BlobPath(desc.Digest.String()); err == nil {
			continue
		}
		if _, dup := out[desc.Digest]; dup {
			continue
		}
		res := make(chan error, 1)
		out[desc.Digest] = res
		l := p2p.Layer{Digest: desc.Digest.String(), Size: desc.Size, InfoHash: ih, Transport: rt}
		if webSeed != nil {
			l.WebSeed = webSeed(desc.Digest)
		}
		go func() {
			res <- c.Fetch(ctx, l, func(ctx context.Context, path string) (string, error) {
				return adopt(ctx, desc, path)
			}, nil)
		}()
	}
	return out
}

// origin returns how to name a blob of ref's repository at its registry
// (the web seed) and the transport that carries the node's registry
// credentials there; nil for layouts.
func origin(ctx context.Context, ref string) (func(v1.Hash) string, http.RoundTripper) {
	url, err := originURL(ref)
	if url == nil || err != nil {
		return nil, nil
	}
	repo := mustRepo(ref)
	reg := repo.Registry
	auth, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		auth = authn.Anonymous
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, http.DefaultTransport, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		// The registry does not answer now: peers may still have it all;
		// the web seed is tried without credentials.
		logctx.From(ctx).Debug("p2p: no registry transport for the web seed", "registry", reg.RegistryStr(), "err", err)
		return url, nil
	}
	return url, rt
}

// P2P returns the daemon's BitTorrent state: peers, banned peers, and
// per-layer progress.
func (n *Node) P2P(ctx context.Context) (*p2p.Stats, error) {
	c := n.bt.Load()
	if c == nil {
		return nil, ErrNoP2P
	}
	s := c.Stats()
	return &s, nil
}

// Torrent returns the metainfo (.torrent) of a stored blob: its info
// dictionary, the trackers the daemon knows, and the web seed of the
// registry it came from. Any BitTorrent client can fetch it from the fleet.
func (n *Node) Torrent(ctx context.Context, digest string) ([]byte, error) {
	c := n.bt.Load()
	if c == nil {
		return nil, ErrNoP2P
	}
	var webSeeds []string
	if imgs, err := n.st.List(); err == nil {
		for _, img := range imgs {
			if !slices.Contains(img.Blobs, digest) {
				continue
			}
			if u, _ := originURL(img.Ref); u != nil {
				h, err := v1.NewHash(digest)
				if err == nil {
					webSeeds = append(webSeeds, u(h))
				}
			}
			break
		}
	}
	mi, err := c.Metainfo(digest, webSeeds)
	if err != nil {
		return nil, fmt.Errorf("torrent of %s: %w", digest, err)
	}
	return mi, nil
}

// mustRepo is the repository of a reference originURL accepted.
func mustRepo(ref string) name.Repository {
	r, _ := name.ParseReference(ref)
	return r.Context()
}

// originURL returns how to name a blob of ref's repository at its
// registry; nil for layouts.
func originURL(ref string) (func(v1.Hash) string, error) {
	if strings.HasPrefix(ref, imagespec.LayoutPrefix) {
		return nil, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	repo := r.Context()
	return func(d v1.Hash) string {
		return fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Registry.Scheme(), repo.Registry.RegistryStr(), repo.RepositoryStr(), d)
	}, nil
}
