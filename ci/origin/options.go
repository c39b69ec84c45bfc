package origin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DefaultAddr is where the origin listens when neither an option nor the
// engine configuration names an address.
const DefaultAddr = "127.0.0.1:5000"

// Option configures New and GarbageCollect.
type Option func(*options) error

type options struct {
	addr          string
	configFile    string
	anonymousPull bool
	insecure      bool
	tlsCert       string
	tlsKey        string
	bodyIdle      time.Duration
	p2pAddr       string
	p2pAllow      []netip.Prefix
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{anonymousPull: true, bodyIdle: time.Minute}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithAddr listens on addr (HOST:PORT; port 0 picks a free port). The
// default is the configuration file's http.addr, else DefaultAddr.
func WithAddr(addr string) Option {
	return func(o *options) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("listen address %q: %w (want HOST:PORT, e.g. 127.0.0.1:5000)", addr, err)
		}
		o.addr = addr
		return nil
	}
}

// WithConfigFile reads the engine's own YAML configuration (the format of
// CNCF distribution's config.yml: storage, redis, notifications, TLS,
// auth, middleware) from path. What it leaves out gets undistro's defaults:
// filesystem storage under the data directory, deletes enabled, an
// in-memory blob descriptor cache, and undistro's htpasswd users. The
// default is no file.
func WithConfigFile(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("configuration file: empty path")
		}
		o.configFile = path
		return nil
	}
}

// WithAnonymousPull sets whether clients without credentials may pull
// (GET/HEAD content, list tags and the catalog) once users exist. The
// default is true: undistro images hold no secrets (a build cannot read
// any) and nodes verify signatures, so what needs guarding is writing, and
// every node of a fleet would otherwise need registry credentials. An auth
// section in the configuration file replaces undistro's users and this.
func WithAnonymousPull(allow bool) Option {
	return func(o *options) error {
		o.anonymousPull = allow
		return nil
	}
}

// WithInsecure allows listening on a non-loopback address without
// authentication or without TLS. The default refuses to.
func WithInsecure() Option {
	return func(o *options) error {
		o.insecure = true
		return nil
	}
}

// WithTLS serves HTTPS with the PEM certificate (chain) and key files.
// The default is the configuration file's http.tls, else plain HTTP.
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) error {
		if certFile == "" || keyFile == "" {
			return errors.New("TLS needs both a certificate and a key file")
		}
		o.tlsCert, o.tlsKey = certFile, keyFile
		return nil
	}
}

// WithBodyIdleTimeout drops a request whose body sends nothing for d, so a
// stalled uploader holds no connection forever. The default is one minute.
func WithBodyIdleTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("body idle timeout %s: must be positive", d)
		}
		o.bodyIdle = d
		return nil
	}
}
