package origin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"

	"github.com/un-distro/undistro/ci/origin/internal/htpasswd"
)

// ErrExposed is returned by New for a non-loopback address without
// authentication or TLS (and no WithInsecure).
var ErrExposed = errors.New("refusing to serve a registry on the network without authentication and TLS")

// Server is a running origin registry: the CNCF distribution engine in
// process, behind undistro's front door (repository names checked, stalled
// request bodies dropped) and access controller.
type Server struct {
	cfg    *configuration.Configuration
	app    *handlers.App
	srv    *http.Server
	ln     net.Listener
	lock   *os.File
	scheme string
	open   bool // no users: anyone may write (loopback or WithInsecure)
	seeder *seeder
}

// New opens the origin whose state lives under data (created 0700 if
// missing) and listens; Serve then answers requests. Only one server or
// garbage collection uses a data directory at a time.
//
// Binding to an address that is not loopback needs authentication (a user
// in DATA/htpasswd, or an auth section in the configuration file) and TLS,
// unless WithInsecure is given.
func New(ctx context.Context, data string, opts ...Option) (s *Server, err error) {
	o, cfg, lock, err := openData(data, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	users := htpasswd.NewStore(HtpasswdPath(data))
	initial, err := users.Users()
	if err != nil {
		return nil, err
	}
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(cfg.HTTP.Net, cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w (is another registry running? pick another address)", cfg.HTTP.Addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	userAuth := cfg.Auth.Type() != "" && !strings.EqualFold(cfg.Auth.Type(), "none")
	local := isLoopback(ln.Addr())
	if !local && !o.insecure {
		var missing []string
		if !userAuth && len(initial) == 0 {
			missing = append(missing, fmt.Sprintf("no users (add one: undistro serve user add NAME --data %s)", data))
		}
		if tlsConf == nil {
			missing = append(missing, "no TLS (give --tls-cert and --tls-key, or http.tls in --config)")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s listens beyond this machine with %s; or pass --insecure to serve anyway on a network you trust",
				ErrExposed, ln.Addr(), strings.Join(missing, " and "))
		}
	}
	open := local || o.insecure
	if !userAuth {
		cfg.Auth = configuration.Auth{accessControllerName: configuration.Parameters{
			"users": users, "realm": "undistro", "anonymouspull": o.anonymousPull, "open": open,
		}}
	}
	configureLogging(ctx, cfg)
	app, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	}
	h := frontDoor(app, o.bodyIdle)
	var sd *seeder
	if o.p2pAddr != "" {
		if sd, err = newSeeder(ctx, data, cfg, o); err != nil {
			_ = app.Shutdown()
			return nil, err
		}
		h = sd.wrap(h)
	}
	s = &Server{
		cfg: cfg, app: app, ln: ln, lock: lock, scheme: scheme, open: open && len(initial) == 0 && !userAuth, seeder: sd,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
	}
	return s, nil
}

// newApp builds the engine, turning its configuration panics into errors.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuring the registry engine: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the server's base URL, e.g. http://127.0.0.1:5000.
func (s *Server) URL() string { return s.scheme + "://" + s.ln.Addr().String() }

// Open reports whether the registry started without any authentication
// (no users, on loopback or with WithInsecure).
func (s *Server) Open() bool { return s.open }

// Serve answers requests until ctx is done, then drains (http.draintimeout
// of the configuration, default 5 s) and releases the data directory.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the registry: %w", err)
	case <-ctx.Done():
	}
	drain := s.cfg.HTTP.DrainTimeout
	if drain <= 0 {
		drain = 5 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close stops a server that Serve was never called on.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.close()
	return err
}

func (s *Server) close() {
	if s.seeder != nil {
		s.seeder.close()
	}
	_ = s.app.Shutdown()
	s.lock.Close()
}

// isLoopback reports whether a listener's address is reachable only from
// this machine: a loopback IP or a unix socket.
func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// tlsConfig is the server TLS configuration from http.tls, or nil.
func tlsConfig(cfg *configuration.Configuration) (*tls.Config, error) {
	t := cfg.HTTP.TLS
	if t.Certificate == "" {
		return nil, nil
	}
	min := map[string]uint16{"": tls.VersionTLS12, "tls1.2": tls.VersionTLS12, "tls1.3": tls.VersionTLS13}
	v, ok := min[t.MinimumTLS]
	if !ok {
		return nil, fmt.Errorf("http.tls.minimumtls %q: want tls1.2 or tls1.3", t.MinimumTLS)
	}
	cert, err := tls.LoadX509KeyPair(t.Certificate, t.Key)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", t.Certificate, t.Key, err)
	}
	conf := &tls.Config{MinVersion: v, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	if len(t.ClientCAs) > 0 {
		pool := x509.NewCertPool()
		for _, ca := range t.ClientCAs {
			b, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("reading client CA: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("client CA %s: no PEM certificate in it", ca)
			}
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return conf, nil
}

// dataPath is a file under the data directory.
func dataPath(data, name string) string { return filepath.Join(data, name) }
