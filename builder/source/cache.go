package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/logctx"
)

// Fetcher fetches one kind of source. Fetch creates dst (which does not
// exist yet; its parent is a private scratch directory the fetcher may
// also use), fills it with the verified source tree and returns the
// source's identity, as Cache.Identity computes it. On error the caller
// removes the scratch directory.
type Fetcher interface {
	Fetch(ctx context.Context, s recipe.Source, dst string) (identity string, err error)
}

// Fetched is a source made available in the cache.
type Fetched struct {
	// Dir is the read-only extracted tree (directories 0555, files 0444 or
	// 0555); the builder copies it into the sandbox.
	Dir string
	// Identity is the source's content identity, as Cache.Identity.
	Identity string
	// Location is where the source came from, for people and the SBOM:
	// URL, "git+URL@commit", "pkg:golang/mod@ver", "deb:pkg=ver",
	// "debsrc:pkg=ver" or "path:rel".
	Location string
	// GoModCache is, for Go module sources, the GOMODCACHE holding every
	// dependency of the module (bind it read-only into the sandbox).
	GoModCache string
}

// Cache is the content-addressed source cache.
type Cache struct {
	dir      string
	repoRoot string
	client   *http.Client

	modOnce  sync.Once
	modCache string
	modErr   error

	mu       sync.Mutex
	inflight map[string]*call
}

type call struct {
	done chan struct{}
	err  error
}

// Option configures a Cache.
type Option func(*Cache) error

// WithRepoRoot sets the repository root that path sources are relative to
// and must stay inside. The default is the current working directory.
func WithRepoRoot(dir string) Option {
	return func(c *Cache) error {
		abs, err := existingDir("repository root", dir)
		if err != nil {
			return err
		}
		c.repoRoot = abs
		return nil
	}
}

// WithGoModCache sets the GOMODCACHE that Go module sources and their
// dependencies are downloaded into. The default is `go env GOMODCACHE`,
// asked the first time a Go source is fetched.
func WithGoModCache(dir string) Option {
	return func(c *Cache) error {
		if dir == "" {
			return errors.New("go module cache: empty directory name")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("go module cache %q: %w", dir, err)
		}
		c.modCache = abs
		return nil
	}
}

// WithHTTPClient sets the client used for http and https sources. The
// default is http.DefaultClient.
func WithHTTPClient(client *http.Client) Option {
	return func(c *Cache) error {
		if client == nil {
			return errors.New("http client: nil")
		}
		c.client = client
		return nil
	}
}

// NewCache opens (creating it if needed) the source cache under dir.
func NewCache(dir string, opts ...Option) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("source cache: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("source cache %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("creating source cache: %w", err)
	}
	c := &Cache{dir: abs, client: http.DefaultClient, inflight: map[string]*call{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("configuring source cache: %w", err)
		}
	}
	removeStale(abs)
	if c.repoRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("finding the repository root: %w", err)
		}
		c.repoRoot = wd
	}
	return c, nil
}

// Identity returns the source's content identity without fetching it:
// "sha256:<hex>" for url and deb sources, "git:<commit>",
// "gomod:<module>@<version> <h1 sum>", "debsrc:<pkg>=<version>", and for a
// path source "sha256:<hex>" over its tree (see PathFetcher.Identity).
func (c *Cache) Identity(ctx context.Context, r *recipe.Recipe) (string, error) {
	id, err := c.identity(ctx, r.Source)
	if err != nil {
		return "", fmt.Errorf("%s: source: %w", recipeName(r), err)
	}
	return id, nil
}

func (c *Cache) identity(ctx context.Context, s recipe.Source) (string, error) {
	switch s.Kind() {
	case "url":
		return urlIdentity(s)
	case "git":
		return gitIdentity(s)
	case "gomod":
		return gomodIdentity(s)
	case "deb":
		return debIdentity(s)
	case "debsrc":
		return debsrcIdentity(s)
	case "path":
		return (&PathFetcher{RepoRoot: c.repoRoot}).Identity(ctx, s)
	}
	return "", fmt.Errorf("%w: no source kind set; give one of url, git, gomod, deb, debsrc, path", ErrBadSource)
}

// Includes reports whether the host file is part of r's source tree; only
// path sources (a directory of this repository) can include host files.
func (c *Cache) Includes(ctx context.Context, r *recipe.Recipe, file string) (bool, error) {
	if r.Source.Kind() != "path" {
		return false, nil
	}
	return (&PathFetcher{RepoRoot: c.repoRoot}).Includes(ctx, r.Source, file)
}

// Location returns where s comes from, in the form Fetched.Location uses.
func Location(s recipe.Source) string {
	switch s.Kind() {
	case "url":
		return s.URL
	case "git":
		return "git+" + s.Git + "@" + s.Commit
	case "gomod":
		return "pkg:golang/" + s.GoMod
	case "deb":
		return "deb:" + s.Deb + "=" + s.Version
	case "debsrc":
		return "debsrc:" + s.DebSrc + "=" + s.Version
	case "path":
		return "path:" + filepath.ToSlash(filepath.Clean(s.Path))
	}
	return ""
}

// Fetch makes the recipe's verified source available as a read-only tree
// in the cache, fetching it only if the cache does not hold it yet.
func (c *Cache) Fetch(ctx context.Context, r *recipe.Recipe) (*Fetched, error) {
	s := r.Source
	id, err := c.Identity(ctx, r)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(c.dir, cacheKey(s.Kind(), id))
	f := &Fetched{Dir: filepath.Join(final, "tree"), Identity: id, Location: Location(s)}
	if s.Kind() == "gomod" {
		if f.GoModCache, err = c.goModCache(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", recipeName(r), err)
		}
	}
	log := logctx.From(ctx)
	if isDir(f.Dir) {
		log.DebugContext(ctx, "source cache hit", "recipe", r.Name, "identity", id)
		if f.GoModCache != "" {
			if err := ensureGoDeps(ctx, s, f); err != nil {
				return nil, fmt.Errorf("%s: %w", recipeName(r), err)
			}
		}
		return f, nil
	}
	err = c.once(ctx, final, func() error {
		if isDir(f.Dir) {
			return nil
		}
		log.DebugContext(ctx, "fetching source", "recipe", r.Name, "location", f.Location)
		return c.fill(ctx, s, id, final, f.GoModCache)
	})
	if err != nil {
		var me *MismatchError
		if errors.As(err, &me) && me.Recipe == "" {
			me.Recipe = recipeName(r)
		}
		return nil, fmt.Errorf("fetching %s for %s: %w", f.Location, recipeName(r), err)
	}
	return f, nil
}

// fill fetches s into a scratch directory and renames it to final.
func (c *Cache) fill(ctx context.Context, s recipe.Source, id, final, modCache string) error {
	fe, err := c.fetcher(s.Kind(), modCache)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("creating scratch directory: %w", err)
	}
	defer removeTree(tmp)
	tree := filepath.Join(tmp, "tree")
	got, err := fe.Fetch(ctx, s, tree)
	if err != nil {
		return err
	}
	if got != id {
		return fmt.Errorf("source changed while it was fetched (identity %s before, %s after); fetch again", id, got)
	}
	if err := seal(tree); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "identity"), []byte(id+"\n"), 0o600); err != nil {
		return err
	}
	if err := atomicfile.PublishDir(tmp, final, atomicfile.Step("source")); err != nil {
		if isDir(filepath.Join(final, "tree")) {
			return nil // another process filled it first; ours is removed.
		}
		return fmt.Errorf("moving fetched source into the cache: %w", err)
	}
	return nil
}

func (c *Cache) fetcher(kind, modCache string) (Fetcher, error) {
	switch kind {
	case "url":
		return &URLFetcher{Client: c.client}, nil
	case "git":
		return &GitFetcher{}, nil
	case "gomod":
		return &GoModFetcher{ModCache: modCache}, nil
	case "deb":
		return &DebFetcher{}, nil
	case "debsrc":
		return &DebSrcFetcher{AptDir: filepath.Join(c.dir, "apt")}, nil
	case "path":
		return &PathFetcher{RepoRoot: c.repoRoot}, nil
	}
	return nil, fmt.Errorf("%w: unknown source kind %q", ErrBadSource, kind)
}

// once runs fn for key unless another goroutine of this process is
// already running it, in which case it waits for that run's result.
func (c *Cache) once(ctx context.Context, key string, fn func() error) error {
	c.mu.Lock()
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(cl.done)
	}()
	cl.err = fn()
	return cl.err
}

func (c *Cache) goModCache(ctx context.Context) (string, error) {
	c.modOnce.Do(func() {
		if c.modCache != "" {
			return
		}
		out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
		if err != nil {
			c.modErr = fmt.Errorf("asking go for GOMODCACHE (is go installed?): %w", err)
			return
		}
		c.modCache = strings.TrimSpace(string(out))
		if c.modCache == "" {
			c.modErr = errors.New("go env GOMODCACHE printed nothing; set GOMODCACHE or GOPATH")
		}
	})
	return c.modCache, c.modErr
}

// staleAge is how old a scratch directory must be before NewCache takes
// it for the leftover of a crashed fetch and removes it.
const staleAge = 24 * time.Hour

func removeStale(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAge {
			_ = removeTree(filepath.Join(dir, e.Name()))
		}
	}
}

// cacheKey names a source's cache directory: the kind is part of it so
// that two kinds sharing an identity form never share a tree.
func cacheKey(kind, id string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + id))
	return hex.EncodeToString(sum[:])
}

func recipeName(r *recipe.Recipe) string {
	if r.File != "" {
		return r.File
	}
	if r.Name != "" {
		return "recipe " + r.Name
	}
	return "recipe"
}

func existingDir(what, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%s: empty directory name", what)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, dir, err)
	}
	if !isDir(abs) {
		return "", fmt.Errorf("%s %q is not a directory", what, dir)
	}
	return abs, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
