package builder

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/builder/remotecache"
	"github.com/un-distro/undistro/builder/sandbox"
	"github.com/un-distro/undistro/builder/source"
)

// Result is what Build did for one role.
type Result struct {
	Role   string        `json:"role"`
	Digest string        `json:"digest"`
	Size   int64         `json:"size"` // manifest + config + compressed layers
	Ref    string        `json:"ref,omitempty"`
	Layers []LayerResult `json:"layers"`
	// Built and Cached list the packages of this role built in this run or
	// taken from the cache.
	Built  []string `json:"built"`
	Cached []string `json:"cached"`
	// Pulled lists the packages of Cached that this run took from the
	// registry cache (WithCacheRegistry).
	Pulled []string `json:"pulled,omitempty"`
}

// LayerResult is one layer of a built image.
type LayerResult struct {
	What   string `json:"what"` // "pkg:NAME@VERSION" or "files:ROLE"
	Digest string `json:"digest"`
	Size   int64  `json:"size"`    // compressed
	Tar    int64  `json:"tarSize"` // uncompressed: the package's payload
}

// Build builds the images of the named roles (images/ROLE.toml) into an OCI
// image layout, building only the packages whose cache key is not cached.
func Build(ctx context.Context, roles []string, opts ...Option) ([]Result, error) {
	started := time.Now()
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("no role given: name one or more of images/*.toml")
	}
	src, err := source.NewCache(filepath.Join(c.cacheDir, "src"), source.WithRepoRoot(c.repo))
	if err != nil {
		return nil, err
	}
	pkgs, err := cache.Open(filepath.Join(c.cacheDir, "pkg"))
	if err != nil {
		return nil, err
	}
	ep, err := newEpochs(ctx, c.repo)
	if err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, c, src, ep, roles)
	if err != nil {
		return nil, err
	}
	if err := keyOutOfSources(ctx, c, src, p); err != nil {
		return nil, err
	}
	b := &runner{cfg: c, src: src, pkgs: pkgs, entries: map[string]*cache.Entry{}, built: map[string]bool{}, pulled: map[string]bool{}}
	if b.remote, err = c.remoteCache(); err != nil {
		return nil, err
	}
	for i, u := range p.order {
		if err := b.ensure(ctx, u, i+1, len(p.order)); err != nil {
			return nil, err
		}
	}
	return b.assemble(ctx, p, ep, started)
}

// keyOutOfSources refuses a signing key that a path source would copy
// into a build, which could then ship it in an image.
func keyOutOfSources(ctx context.Context, c *config, src *source.Cache, p *plan) error {
	if c.signKey == "" {
		return nil
	}
	for _, u := range p.order {
		in, err := src.Includes(ctx, u.recipe, c.signKey)
		if err != nil {
			return fmt.Errorf("%s: %w", u.recipe.File, err)
		}
		if in {
			return fmt.Errorf("signing key %s is part of the source of %s (%s), so its build could read it: move the key out of the repository, or git-ignore or exclude it", c.signKey, u.name, u.recipe.File)
		}
	}
	return nil
}

// runner executes a plan.
type runner struct {
	cfg     *config
	src     *source.Cache
	pkgs    *cache.Cache
	entries map[string]*cache.Entry // by key
	built   map[string]bool         // keys built in this run
	pulled  map[string]bool         // keys pulled from the registry cache in this run
	remote  *remotecache.Store      // nil without WithCacheRegistry
	noPull  bool                    // the registry failed: stop pulling
}

func (b *runner) say(format string, a ...any) {
	if b.cfg.progress != nil {
		fmt.Fprintf(b.cfg.progress, format+"\n", a...)
	}
}

// ensure makes u's built tree and layer available: from the local cache,
// else from the registry cache, else by building it. With WithCachePush,
// what was not pulled is then pushed.
func (b *runner) ensure(ctx context.Context, u *unit, i, n int) error {
	e, ok, err := b.pkgs.Get(u.key)
	if err != nil {
		return err
	}
	if ok {
		b.entries[u.key] = e
		return b.push(ctx, u, e)
	}
	if ok, err := b.pull(ctx, u, i, n); err != nil || ok {
		return err
	}
	b.say("[%d/%d] building %s %s", i, n, u.name, u.recipe.Version)
	f, err := b.src.Fetch(ctx, u.recipe)
	if err != nil {
		return fmt.Errorf("%s: fetching source: %w", u.recipe.File, err)
	}
	tmp := filepath.Join(b.cfg.cacheDir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	root, err := os.MkdirTemp(tmp, "build-"+u.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	logDir := filepath.Join(b.cfg.cacheDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	spec := sandbox.Spec{
		Root:   root,
		Src:    f.Dir,
		Env:    b.env(u),
		Script: u.recipe.Build.Script,
		Log:    filepath.Join(logDir, u.name+".log"),
		Jobs:   b.cfg.jobs,
		Epoch:  u.epoch,
		Tools:  u.tools,
	}
	for _, d := range u.deps {
		spec.ReadOnly = append(spec.ReadOnly, sandbox.Bind{Host: b.entries[d.key].Dir, Sandbox: "/deps/" + d.name})
	}
	if err := b.goEnv(ctx, u, f, &spec); err != nil {
		return err
	}
	if err := b.cfg.sandbox.Run(ctx, spec); err != nil {
		return fmt.Errorf("building %s (%s): %w", u.name, u.recipe.File, err)
	}
	e, err = b.pkgs.Put(ctx, u.key, spec.DestDir(), cache.WithLayer(layer.Options{Epoch: u.epoch, Privileged: u.recipe.Privileged}))
	if err != nil {
		return fmt.Errorf("packaging %s (%s): %w", u.name, u.recipe.File, err)
	}
	b.entries[u.key] = e
	b.built[u.key] = true
	return b.push(ctx, u, e)
}

// env is the build's environment on top of the sandbox's clean one.
func (b *runner) env(u *unit) map[string]string {
	env := map[string]string{
		"SOURCE_DATE_EPOCH": strconv.FormatInt(u.epoch, 10),
		"JOBS":              strconv.Itoa(b.cfg.jobs),
		"UNDISTRO_PACKAGE":  u.name,
		"UNDISTRO_VERSION":  u.recipe.Version,
	}
	for k, v := range u.options {
		env["UNDISTRO_OPT_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = v
	}
	for k, v := range u.recipe.Build.Env {
		env[k] = v
	}
	return env
}

// goEnv prepares Go builds (host:go): the module cache read-only, all
// modules downloaded beforehand (the sandbox has no network), and a shared
// build cache ($UNDISTRO_GOCACHE, default CACHE/gocache), which Go addresses
// by content, so it speeds builds up without changing their outputs.
func (b *runner) goEnv(ctx context.Context, u *unit, f *source.Fetched, spec *sandbox.Spec) error {
	if !slices.Contains(u.tools, "go") {
		return nil
	}
	modcache := f.GoModCache
	if modcache == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
		if err != nil {
			return fmt.Errorf("locating the Go module cache: %w", err)
		}
		modcache = strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(f.Dir, "go.mod")); err == nil {
			cmd := exec.CommandContext(ctx, "go", "mod", "download")
			cmd.Dir = f.Dir
			cmd.Env = append(os.Environ(), "GOMODCACHE="+modcache, "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("downloading Go modules for %s: %w\n%s", u.name, err, out)
			}
		}
	}
	gocache := os.Getenv("UNDISTRO_GOCACHE")
	if gocache == "" {
		gocache = filepath.Join(b.cfg.cacheDir, "gocache")
	}
	if err := os.MkdirAll(gocache, 0o755); err != nil {
		return err
	}
	spec.ReadOnly = append(spec.ReadOnly, sandbox.Bind{Host: modcache, Sandbox: "/gomodcache"})
	spec.Writable = append(spec.Writable, sandbox.Bind{Host: gocache, Sandbox: "/gocache"})
	for k, v := range map[string]string{"GOMODCACHE": "/gomodcache", "GOCACHE": "/gocache",
		"GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GONOSUMDB": "*", "GOSUMDB": "off"} {
		if _, set := spec.Env[k]; !set {
			spec.Env[k] = v
		}
	}
	return nil
}
