package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
)

// ErrNoUpstream: the upstream list is empty or every upstream refused.
var ErrNoUpstream = errors.New("no upstream available")

// Proxy balances HTTP requests over a list of upstreams, round-robin.
type Proxy struct {
	file string
	log  *slog.Logger // from New's ctx

	mu        sync.RWMutex
	upstreams []string
	next      atomic.Uint64
	rp        *httputil.ReverseProxy
	dialer    net.Dialer
}

// New returns a proxy over the upstreams listed in file (see Load). It
// logs to ctx's logger.
func New(ctx context.Context, file string) (*Proxy, error) {
	p := &Proxy{file: file, log: logctx.From(ctx), dialer: net.Dialer{Timeout: 2 * time.Second}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = "upstream" // the transport picks the upstream
			r.SetXForwarded()
		},
		// A connection per request: each request goes to the next upstream
		// (a pooled connection would pin traffic to one).
		Transport: &http.Transport{DialContext: p.dial, DisableKeepAlives: true},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.log.Warn("proxying", "path", r.URL.Path, "err", err)
			http.Error(w, "bad gateway: "+err.Error(), http.StatusBadGateway)
		},
	}
	if err := p.Load(); err != nil {
		return nil, err
	}
	return p, nil
}

// Load rereads the upstream file: one HOST:PORT a line; blank lines and
// lines from '#' on are ignored. A missing file is an empty list (the
// template may not be rendered yet); a malformed line is an error naming
// file:line, and the old list stays.
func (p *Proxy) Load() error {
	f, err := os.Open(p.file)
	if errors.Is(err, os.ErrNotExist) {
		p.set(nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading upstreams: %w", err)
	}
	defer f.Close()
	ups, err := parse(p.file, f)
	if err != nil {
		return err
	}
	p.set(ups)
	return nil
}

func parse(name string, r io.Reader) ([]string, error) {
	var ups []string
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for line := 1; sc.Scan(); line++ {
		s, _, _ := strings.Cut(sc.Text(), "#")
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" || strings.ContainsAny(s, " \t/") {
			return nil, fmt.Errorf("%s:%d: upstream %q: want HOST:PORT", name, line, s)
		}
		ups = append(ups, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading upstreams %s: %w", name, err)
	}
	return ups, nil
}

func (p *Proxy) set(ups []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.Join(ups, ",") != strings.Join(p.upstreams, ",") {
		p.log.Info("upstreams", "file", p.file, "upstreams", ups)
	}
	p.upstreams = ups
}

// Upstreams returns the current list.
func (p *Proxy) Upstreams() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]string(nil), p.upstreams...)
}

// dial connects to the next upstream in turn, skipping those that refuse.
func (p *Proxy) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	ups := p.Upstreams()
	if len(ups) == 0 {
		return nil, fmt.Errorf("%w: %s lists none", ErrNoUpstream, p.file)
	}
	start := p.next.Add(1)
	var errs []error
	for i := range ups {
		addr := ups[(start+uint64(i))%uint64(len(ups))]
		c, err := p.dialer.DialContext(ctx, network, addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrNoUpstream, errors.Join(errs...))
}

// ServeHTTP proxies r to an upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.rp.ServeHTTP(w, r) }

// Run serves the proxy on listen until ctx ends, rereading the upstream
// file on SIGHUP.
func Run(ctx context.Context, listen, file string) error {
	p, err := New(ctx, file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := p.Load(); err != nil {
					p.log.Error("rereading upstreams; keeping the old list", "err", err)
				}
			}
		}
	}()
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	p.log.Info("proxy listening", "addr", ln.Addr().String(), "upstreams", p.Upstreams())
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", listen, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
