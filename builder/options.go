package builder

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"

	"github.com/un-distro/undistro/builder/sandbox"
	"github.com/un-distro/undistro/builder/sign"
)

// Version is the builder's version; it enters every cache key, so a builder
// change that alters outputs must bump it.
const Version = "0.2.0" // 0.2.0: sealed sandbox (uid 1000, host view), layers checked by the node's rules

// Option configures Build.
type Option func(*config) error

type config struct {
	repo     string
	cacheDir string
	out      string
	push     string
	pushTag  string
	rootfs   string
	jobs     int
	progress io.Writer
	signKey  string
	signPass sign.PassFunc
	sandbox  sandbox.Sandbox

	// registry cache (registrycache.go)
	cacheRepo    string
	cacheKeys    []crypto.PublicKey
	cachePush    *sign.Signer
	cachePushKey crypto.PublicKey
}

// WithRepo sets the repository root holding recipes/ and images/.
// Default: the current directory.
func WithRepo(dir string) Option {
	return func(c *config) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("resolving repository %q: %w", dir, err)
		}
		if _, err := os.Stat(filepath.Join(abs, "recipes")); err != nil {
			return fmt.Errorf("repository %s has no recipes/ directory: run from the repository root or pass --repo", abs)
		}
		c.repo = abs
		return nil
	}
}

// WithCache sets the cache directory (sources, built packages).
// Default: $UNDISTRO_CACHE, else the user cache dir + "/undistro".
func WithCache(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return errors.New("cache directory must not be empty")
		}
		c.cacheDir = dir
		return nil
	}
}

// WithOutput sets the OCI image layout directory to write. Required.
func WithOutput(dir string) Option {
	return func(c *config) error { c.out = dir; return nil }
}

// WithPush pushes each role's image to PREFIX/ROLE:latest (the tag is set by WithPushTag)
// (e.g. "127.0.0.1:5000/undistro"). Default: no push.
func WithPush(prefix string) Option {
	return func(c *config) error { c.push = prefix; return nil }
}

// WithPushTag sets the tag WithPush pushes each role's image under
// (PREFIX/ROLE:TAG), e.g. a commit id. Default: "latest". It must be a
// valid OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
func WithPushTag(tag string) Option {
	return func(c *config) error {
		if !tagRE.MatchString(tag) {
			return fmt.Errorf("push tag %q is not a valid OCI tag: use letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')", tag)
		}
		c.pushTag = tag
		return nil
	}
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// WithRootfs also exports each role's flattened root filesystem to
// DIR/ROLE. Default: none.
func WithRootfs(dir string) Option {
	return func(c *config) error { c.rootfs = dir; return nil }
}

// WithJobs sets $JOBS for builds. Default: the number of CPUs. Must be ≥ 1.
func WithJobs(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("jobs = %d: want at least 1", n)
		}
		c.jobs = n
		return nil
	}
}

// WithProgress writes one human-readable line per step to w. Default: silent.
func WithProgress(w io.Writer) Option {
	return func(c *config) error { c.progress = w; return nil }
}

// WithSandbox sets the sandbox that runs build scripts. Default: a
// [sandbox.Bwrap] looking up bwrap in $PATH. It must not be nil.
func WithSandbox(s sandbox.Sandbox) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("sandbox must not be nil")
		}
		c.sandbox = s
		return nil
	}
}

// DefaultCacheDir returns $UNDISTRO_CACHE or the user cache dir + "/undistro".
func DefaultCacheDir() string {
	if d := os.Getenv("UNDISTRO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "undistro")
	}
	return filepath.Join(os.TempDir(), "undistro-cache")
}

func newConfig(opts []Option) (*config, error) {
	c := &config{jobs: runtime.NumCPU(), pushTag: "latest"}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.repo == "" {
		if err := WithRepo(".")(c); err != nil {
			return nil, err
		}
	}
	if c.cacheDir == "" {
		c.cacheDir = DefaultCacheDir()
	}
	if c.sandbox == nil {
		c.sandbox = &sandbox.Bwrap{}
	}
	if c.out == "" {
		return nil, errors.New("no output directory: pass --out DIR")
	}
	if err := c.cachePushFromSigning(); err != nil {
		return nil, err
	}
	if err := c.checkCacheOptions(); err != nil {
		return nil, err
	}
	return c, nil
}
