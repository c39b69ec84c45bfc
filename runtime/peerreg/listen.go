package peerreg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/netutil"

	"github.com/un-distro/undistro/internal/logctx"
)

// EndpointFor returns the peer endpoint of the node whose BitTorrent
// address is btAddr (host:port): the same host, port + 1.
func EndpointFor(btAddr string) (string, error) {
	host, port, err := net.SplitHostPort(btAddr)
	if err != nil {
		return "", fmt.Errorf("peer address %q: %w (want HOST:PORT)", btAddr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p >= 65535 {
		return "", fmt.Errorf("peer address %q: port %q: want 0 to 65534 (the peer endpoint is on port + 1)", btAddr, port)
	}
	if p == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

// Allowed reports whether addr is inside one of allow.
func Allowed(allow []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// MaxConns bounds the peers served at once; more wait to be accepted, so
// a peer that opens connections without end cannot exhaust the daemon's
// descriptors.
const MaxConns = 64

// Server is a running peer endpoint.
type Server struct {
	ln  net.Listener
	al  *allowListener
	srv *http.Server
}

// Listen listens on addr for peers. Connections from outside allow (the
// fleet's ranges: the node passes the BitTorrent client's allow-list,
// p2p.DefaultAllow unless configured) are closed as soon as they are
// accepted, before any byte is read.
func Listen(addr string, allow []netip.Prefix, c Content) (*Server, error) {
	if len(allow) == 0 {
		return nil, errors.New("listening for peers: empty allow-list")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for peers on %s: %w (the peer endpoint is the BT port + 1: pick a --p2p port whose next port is free)", addr, err)
	}
	al := &allowListener{Listener: ln, allow: allow, log: slog.New(slog.DiscardHandler)} // Serve sets its ctx's
	return &Server{
		ln: netutil.LimitListener(al, MaxConns),
		al: al,
		srv: &http.Server{
			Handler:           Handler(c),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers peers until ctx ends; it logs to ctx's logger.
func (s *Server) Serve(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	s.al.log = logctx.From(ctx) // before Serve starts accepting
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving peers on %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server at once.
func (s *Server) Close() error { return s.srv.Close() }

// allowListener closes connections from outside its allow-list.
type allowListener struct {
	net.Listener
	allow []netip.Prefix
	log   *slog.Logger
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err == nil && Allowed(l.allow, ap.Addr()) {
			return c, nil
		}
		l.log.Debug("refused a peer outside the allow-list", "remote", c.RemoteAddr())
		c.Close()
	}
}
