package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/p2p/tracker"
)

// AnnouncePath is where the origin serves its BitTorrent tracker.
const AnnouncePath = "/announce"

// WithP2P makes the origin the fleet's first peer: a BitTorrent client on
// addr (HOST:PORT) seeds every layer of every stored manifest whose
// descriptor carries an infohash (btmeta.Annotation), read from the
// registry's storage, and the server answers tracker announces at
// AnnouncePath. allow bounds the peers and announcers (nil:
// p2p.DefaultAllow). Default: no BitTorrent.
func WithP2P(addr string, allow []netip.Prefix) Option {
	return func(o *options) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("p2p address %q: %w (want HOST:PORT)", addr, err)
		}
		o.p2pAddr, o.p2pAllow = addr, allow
		return nil
	}
}

// seeder is the origin's BitTorrent side.
type seeder struct {
	c     *p2p.Client
	tr    *tracker.Tracker
	reg   distribution.Namespace
	log   *slog.Logger
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	scans chan string // repositories to scan ("" for all)
}

func newSeeder(ctx context.Context, data string, cfg *configuration.Configuration, o *options) (*seeder, error) {
	drv, err := factory.Create(ctx, cfg.Storage.Type(), cfg.Storage.Parameters())
	if err != nil {
		return nil, fmt.Errorf("opening %s storage to seed it: %w", cfg.Storage.Type(), err)
	}
	reg, err := storage.NewRegistry(ctx, drv)
	if err != nil {
		return nil, fmt.Errorf("opening registry storage to seed it: %w", err)
	}
	allow := o.p2pAllow
	if allow == nil {
		allow = p2p.DefaultAllow
	}
	c, err := p2p.New(ctx, p2p.Config{Listen: o.p2pAddr, Allow: allow, UploadRate: o.p2pUp,
		PartialDir: filepath.Join(data, "p2p", "partial"), InfoDir: filepath.Join(data, "p2p", "info")})
	if err != nil {
		return nil, err
	}
	tr := tracker.New(allow)
	tr.Seed(c.Addr(), c.Seeding)
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &seeder{c: c, tr: tr, reg: reg, log: logctx.From(ctx), ctx: sctx, stop: stop, scans: make(chan string, 64)}
	s.wg.Add(1)
	go s.loop()
	s.scans <- ""
	return s, nil
}

// loop scans what is asked, one scan at a time.
func (s *seeder) loop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case repo := <-s.scans:
			if err := s.scan(s.ctx, repo); err != nil && s.ctx.Err() == nil {
				s.log.Warn("seeding the registry's layers", "repository", repo, "err", err)
			}
		}
	}
}

// pushed asks for a scan of repo after a manifest was stored.
func (s *seeder) pushed(repo string) {
	select {
	case s.scans <- repo:
	default: // a scan is queued anyway
	}
}

func (s *seeder) close() {
	s.stop()
	s.wg.Wait()
	s.c.Close()
}

// scan seeds the annotated layers of every manifest of repo ("" for all).
func (s *seeder) scan(ctx context.Context, repo string) error {
	if repo != "" {
		return s.scanRepo(ctx, repo)
	}
	en, ok := s.reg.(distribution.RepositoryEnumerator)
	if !ok {
		return errors.New("the registry storage cannot list repositories")
	}
	err := en.Enumerate(ctx, func(name string) error { return s.scanRepo(ctx, name) })
	if errors.As(err, new(driver.PathNotFoundError)) {
		return nil // nothing pushed yet
	}
	return err
}

func (s *seeder) scanRepo(ctx context.Context, name string) error {
	named, err := reference.WithName(name)
	if err != nil {
		return err
	}
	repo, err := s.reg.Repository(ctx, named)
	if err != nil {
		return err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return errors.New("the registry storage cannot list manifests")
	}
	var errs []error
	err = en.Enumerate(ctx, func(d digest.Digest) error {
		m, err := ms.Get(ctx, d)
		if err != nil {
			return nil // not a manifest this engine reads (a signature is)
		}
		for _, desc := range m.References() {
			ih, ok, err := btmeta.FromAnnotations(desc.Annotations)
			if err != nil || !ok || desc.Size <= 0 {
				continue
			}
			blobs := repo.Blobs(ctx)
			dg := desc.Digest
			b := p2p.Blob{Digest: dg.String(), Size: desc.Size, InfoHash: ih,
				Open: func() (io.ReadSeekCloser, error) { return blobs.Open(s.ctx, dg) }}
			if err := s.c.Seed(ctx, b); err != nil {
				errs = append(errs, fmt.Errorf("%s@%s: %w", name, d, err))
			}
		}
		return nil
	})
	if errors.As(err, new(driver.PathNotFoundError)) {
		err = nil
	}
	return errors.Join(append(errs, err)...)
}

// wrap serves the tracker and rescans a repository after a manifest push.
func (s *seeder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == AnnouncePath {
			s.tr.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if name, ok := repoName(r.URL.Path); ok && sw.code == http.StatusCreated {
			s.pushed(name)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// P2P returns the origin's BitTorrent client (nil without WithP2P).
func (s *Server) P2P() *p2p.Client {
	if s.seeder == nil {
		return nil
	}
	return s.seeder.c
}
