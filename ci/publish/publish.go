package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/un-distro/undistro/builder"
	"github.com/un-distro/undistro/builder/sandbox"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/ci/internal/gitrepo"
	"github.com/un-distro/undistro/ci/plan"
)

// Config says what to publish and where.
type Config struct {
	// Repo is the git work tree to build (its HEAD is the commit
	// published). It must be clean: an image is the commit it names.
	Repo string
	// Base is the revision the plan compares HEAD with (the previous
	// commit on main).
	Base string
	// Registry is REGISTRY/PREFIX: roles go to Registry/ROLE.
	Registry string
	// SignKey is the cosign private key signing every image; Pass supplies
	// its password. Exactly one of SignKey and Keyless.
	SignKey string
	Pass    sign.PassFunc
	// Keyless pushes the images unsigned for a later keyless cosign
	// signature (GitHub OIDC) by the workflow: an explicit opt-in. Each
	// role's SBOM is then written to SBOMDir/ROLE.spdx.json (default
	// Out + ".sbom") for the workflow to attest.
	Keyless bool
	SBOMDir string
	// Roles restricts the run to these planned roles (one matrix job);
	// empty means every planned role. A role the plan does not name is an
	// error.
	Roles []string
	// MoveMain moves Registry/ROLE:main once every role is published.
	MoveMain bool
	// Out is the OCI layout written on the way; Cache the builder's cache
	// directory ("" for its default); Jobs the parallel jobs of a build
	// (0 for the number of CPUs).
	Out   string
	Cache string
	Jobs  int
	// CacheRegistry is the REGISTRY/PREFIX whose cache/ repositories share
	// built packages between runs and machines (see
	// builder.WithCacheRegistry): a package whose build key is there,
	// signed by SignKey or one of CacheKeys, is pulled instead of built,
	// and with SignKey every package is pushed there. Default (""):
	// Registry. NoCacheRegistry turns it off.
	CacheRegistry   string
	NoCacheRegistry bool
	// CacheKeys are public key files (cosign .pub) whose cache entries are
	// trusted besides SignKey's own. Keyless runs pull only with these.
	CacheKeys []string
	// Progress receives the builder's progress lines; nil is silent.
	Progress io.Writer
	// BuildOptions are passed on to builder.Build after publish's own
	// (e.g. a remote package cache).
	BuildOptions []builder.Option
}

// Summary is what a run did. It is filled as far as the run got.
type Summary struct {
	Commit   string       `json:"commit"`
	Registry string       `json:"registry"`
	Signing  string       `json:"signing"` // "key" or "keyless"
	Plan     *plan.Plan   `json:"plan"`
	Roles    []RoleResult `json:"roles"`
	// MainMoved reports whether ROLE:main was moved for every role.
	MainMoved bool     `json:"mainMoved"`
	Failed    *Failure `json:"failed,omitempty"`
}

// RoleResult is one published role.
type RoleResult struct {
	Role   string   `json:"role"`
	Digest string   `json:"digest"`
	Ref    string   `json:"ref"`            // Registry/ROLE:<commit>
	Main   string   `json:"main,omitempty"` // Registry/ROLE:main, once moved
	Built  []string `json:"built"`
	Cached []string `json:"cached"`
	Pulled []string `json:"pulled"` // of Cached, taken from the cache registry
	// SBOM is the SPDX document written for a keyless run to attest.
	SBOM string `json:"sbom,omitempty"`
}

// Failure names what broke a run.
type Failure struct {
	Package string `json:"package,omitempty"` // the package whose build failed
	Log     string `json:"log,omitempty"`     // its build log
	Error   string `json:"error"`
}

// ErrDirty is returned when the work tree has uncommitted changes.
var ErrDirty = errors.New("work tree has uncommitted changes")

// Publish plans HEAD against cfg.Base and publishes the planned roles. It
// returns the summary even when it fails.
func Publish(ctx context.Context, cfg Config) (*Summary, error) {
	s := &Summary{Registry: cfg.Registry, Signing: "key", Roles: []RoleResult{}}
	if cfg.Keyless {
		s.Signing = "keyless"
	}
	err := run(ctx, cfg, s)
	if err != nil {
		s.Failed = &Failure{Error: err.Error()}
		var be *sandbox.BuildError
		if errors.As(err, &be) {
			s.Failed.Log = be.LogPath
			s.Failed.Package = strings.TrimSuffix(filepath.Base(be.LogPath), ".log")
			err = fmt.Errorf("package %s failed to build (log: %s): %w", s.Failed.Package, be.LogPath, err)
			s.Failed.Error = err.Error()
		}
	}
	return s, err
}

func run(ctx context.Context, cfg Config, s *Summary) error {
	if err := validate(cfg); err != nil {
		return err
	}
	g := gitrepo.Repo{Dir: cfg.Repo}
	dirty, err := g.Dirty(ctx)
	if err != nil {
		return err
	}
	if len(dirty) > 0 {
		return fmt.Errorf("%w in %s (%s): publish builds commits only; commit or stash them", ErrDirty, cfg.Repo, strings.Join(dirty[:min(5, len(dirty))], ", "))
	}
	p, err := plan.Compute(ctx, cfg.Repo, cfg.Base, "HEAD")
	if err != nil {
		return err
	}
	s.Plan, s.Commit = p, p.Head
	roles := p.Roles
	if len(cfg.Roles) > 0 {
		for _, r := range cfg.Roles {
			if !slices.Contains(p.Roles, r) {
				return fmt.Errorf("role %q is not in the plan of %s..%s (planned: %s)", r, p.Base, p.Head, strings.Join(p.Roles, ", "))
			}
		}
		roles = cfg.Roles
	}
	if len(roles) == 0 {
		return nil
	}
	opts := []builder.Option{builder.WithRepo(cfg.Repo), builder.WithOutput(cfg.Out),
		builder.WithPush(cfg.Registry), builder.WithPushTag(p.Head)}
	if cfg.Cache != "" {
		opts = append(opts, builder.WithCache(cfg.Cache))
	}
	if cfg.Jobs > 0 {
		opts = append(opts, builder.WithJobs(cfg.Jobs))
	}
	if cfg.Progress != nil {
		opts = append(opts, builder.WithProgress(cfg.Progress))
	}
	if !cfg.Keyless {
		pass := cfg.Pass
		if pass != nil {
			pass = sync.OnceValues(pass) // one prompt for both uses of the key
		}
		opts = append(opts, builder.WithSigning(cfg.SignKey, pass))
		cacheOpts, err := cacheOptions(cfg, pass)
		if err != nil {
			return err
		}
		opts = append(opts, cacheOpts...)
	} else if !cfg.NoCacheRegistry && len(cfg.CacheKeys) > 0 {
		opts = append(opts, builder.WithCacheRegistry(cacheRegistry(cfg)), builder.WithCacheKeyFiles(cfg.CacheKeys...))
	}
	results, err := builder.Build(ctx, roles, append(opts, cfg.BuildOptions...)...)
	if err != nil {
		return fmt.Errorf("building %s: %w", strings.Join(roles, ", "), err)
	}
	for _, r := range results {
		s.Roles = append(s.Roles, RoleResult{Role: r.Role, Digest: r.Digest, Ref: r.Ref,
			Built: nonNil(r.Built), Cached: nonNil(r.Cached), Pulled: nonNil(r.Pulled)})
	}
	if cfg.Keyless {
		dir := cfg.SBOMDir
		if dir == "" {
			dir = strings.TrimSuffix(cfg.Out, "/") + ".sbom"
		}
		if s.Roles, err = writeSBOMs(dir, cfg.Out, s.Roles); err != nil {
			return err
		}
	}
	if !cfg.MoveMain {
		return nil
	}
	moved, err := Promote(ctx, cfg.Registry, p.Head, roles)
	if err != nil {
		return err
	}
	for i := range s.Roles {
		for _, m := range moved {
			if m.Role == s.Roles[i].Role {
				s.Roles[i].Main = m.Main
			}
		}
	}
	s.MainMoved = true
	return nil
}

func cacheRegistry(cfg Config) string {
	if cfg.CacheRegistry != "" {
		return cfg.CacheRegistry
	}
	return cfg.Registry
}

// cacheOptions shares packages through the cache registry, pushing with
// the signing key.
func cacheOptions(cfg Config, pass sign.PassFunc) ([]builder.Option, error) {
	if cfg.NoCacheRegistry {
		return nil, nil
	}
	s, err := sign.NewSigner(cfg.SignKey, pass)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w", cfg.SignKey, err)
	}
	opts := []builder.Option{builder.WithCacheRegistry(cacheRegistry(cfg)), builder.WithCachePush(s)}
	if len(cfg.CacheKeys) > 0 {
		opts = append(opts, builder.WithCacheKeyFiles(cfg.CacheKeys...))
	}
	return opts, nil
}

func validate(cfg Config) error {
	switch {
	case cfg.Repo == "":
		return errors.New("no repository: pass --repo DIR")
	case cfg.Base == "":
		return errors.New("no base revision: pass --base REV (the commit main was at before this push)")
	case cfg.Registry == "" || strings.Contains(cfg.Registry, "@") || strings.HasSuffix(cfg.Registry, "/"):
		return fmt.Errorf("registry %q: pass --registry REGISTRY/PREFIX, e.g. 127.0.0.1:5000/undistro", cfg.Registry)
	case cfg.SignKey == "" && !cfg.Keyless:
		return errors.New("no signing key: pass --sign-key KEY, or --keyless when the workflow signs with cosign keyless afterwards")
	case cfg.SignKey != "" && cfg.Keyless:
		return errors.New("--sign-key and --keyless exclude each other: choose one")
	case cfg.Out == "":
		return errors.New("no output layout: pass --out DIR")
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
