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
	"strings"
	"time"
)

// DefaultAllow is the allow-list when none is configured: loopback, the
// RFC 1918 private ranges, IPv6 unique-local (fc00::/7) and link-local
// addresses.
var DefaultAllow = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

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

// Allowed reports whether addr is inside one of allow (nil: DefaultAllow).
func Allowed(allow []netip.Prefix, addr netip.Addr) bool {
	if allow == nil {
		allow = DefaultAllow
	}
	addr = addr.Unmap()
	for _, p := range allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Server is a running peer endpoint.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen listens on addr for peers. Connections from outside allow (nil:
// DefaultAllow) are closed as soon as they are accepted, before any byte
// is read.
func Listen(addr string, allow []netip.Prefix, c Content) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for peers on %s: %w (the peer endpoint is the BT port + 1: pick a --p2p port whose next port is free)", addr, err)
	}
	return &Server{
		ln: &allowListener{Listener: ln, allow: allow},
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

// Serve answers peers until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
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
		slog.Default().Debug("refused a peer outside the allow-list", "remote", c.RemoteAddr())
		c.Close()
	}
}

// ParseAllow parses an allow-list: CIDRs or single addresses, separated
// by commas. An empty list is nil (DefaultAllow).
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: want a CIDR (10.0.0.0/8) or an address", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q: %w (want a CIDR such as 10.0.0.0/8)", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
