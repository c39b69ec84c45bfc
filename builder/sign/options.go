package sign

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures Sign and Attest.
type Option func(*options) error

type options struct {
	tlogURL  string
	nameOpts []name.Option
	remote   []remote.Option
}

// WithTlog uploads each signature and attestation to the Rekor transparency
// log at rekorURL (for example https://rekor.sigstore.dev) and stores the
// returned bundle with it, as `cosign sign --tlog-upload` does. The default
// is offline: no transparency log, verify with --insecure-ignore-tlog.
func WithTlog(rekorURL string) Option {
	return func(o *options) error {
		u, err := url.Parse(rekorURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("transparency log URL %q: want http(s)://HOST", rekorURL)
		}
		o.tlogURL = rekorURL
		return nil
	}
}

// WithInsecure allows plain-HTTP registries other than localhost (which
// go-containerregistry already reaches over HTTP). The default is HTTPS.
func WithInsecure() Option {
	return func(o *options) error {
		o.nameOpts = append(o.nameOpts, name.Insecure)
		return nil
	}
}

// WithRemoteOptions adds go-containerregistry remote options (transport,
// authentication, user agent) for registry references. The default uses
// the Docker config keychain.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error {
		if len(opts) == 0 {
			return errors.New("WithRemoteOptions: no options given")
		}
		o.remote = append(o.remote, opts...)
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}
