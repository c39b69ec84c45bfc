package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/internal/atomicfile"
)

// Cache is a directory of built packages:
//
//	DIR/entries/<hex>/meta.json      the Entry, written last
//	DIR/entries/<hex>/tree/          the built tree
//	DIR/entries/<hex>/layer.tar.gz   its layer blob
//	DIR/tmp/put-<pid>-<random>/      an entry being written
//
// Several processes may share one Cache.
type Cache struct {
	dir string
}

// Entry is one cached package.
type Entry struct {
	Key   string     `json:"key"`
	Dir   string     `json:"-"` // the tree, DIR/entries/<hex>/tree
	Layer layer.Info `json:"layer"`
	path  string     // DIR/entries/<hex>
}

const (
	metaFile  = "meta.json"
	treeDir   = "tree"
	layerFile = "layer.tar.gz"
)

// Open opens (creating it if needed) the cache at dir and removes the
// temporary directories that crashed or killed writers left behind.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("opening cache: directory is empty: pass --cache DIR or set UNDISTRO_CACHE")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening cache %s: %w", dir, err)
	}
	c := &Cache{dir: abs}
	for _, d := range []string{c.entriesDir(), c.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("opening cache: %w", err)
		}
	}
	if err := c.cleanTmp(); err != nil {
		return nil, err
	}
	return c, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) entriesDir() string { return filepath.Join(c.dir, "entries") }
func (c *Cache) tmpDir() string     { return filepath.Join(c.dir, "tmp") }

// cleanTmp removes temporary directories whose writer is gone.
func (c *Cache) cleanTmp() error {
	ents, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return fmt.Errorf("opening cache: %w", err)
	}
	for _, e := range ents {
		if writerAlive(e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.tmpDir(), e.Name())); err != nil {
			return fmt.Errorf("removing stale cache temp dir: %w", err)
		}
	}
	return nil
}

// writerAlive reports whether the process that named a temp dir
// "put-<pid>-…" still runs.
func writerAlive(name string) bool {
	rest, ok := strings.CutPrefix(name, "put-")
	if !ok {
		return false
	}
	pidStr, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Get returns the entry for key, or false if there is none. It reads one
// small file.
func (c *Cache) Get(key string) (*Entry, bool, error) {
	h, err := keyHex(key)
	if err != nil {
		return nil, false, err
	}
	p := filepath.Join(c.entriesDir(), h)
	raw, err := os.ReadFile(filepath.Join(p, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading cache entry: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil || e.Key != key {
		return nil, false, fmt.Errorf("cache entry %s is corrupt (%v): remove that directory", p, err)
	}
	e.path = p
	e.Dir = filepath.Join(p, treeDir)
	return &e, true, nil
}

// LayerPath returns the path of e's compressed layer blob.
func (c *Cache) LayerPath(e *Entry) string {
	if e.path == "" {
		if h, err := keyHex(e.Key); err == nil {
			return filepath.Join(c.entriesDir(), h, layerFile)
		}
	}
	return filepath.Join(e.path, layerFile)
}

// PutOption configures Put.
type PutOption func(*putConfig)

type putConfig struct {
	layer layer.Options
}

// WithLayer sets the options the layer blob is written with (epoch, owners,
// privileged paths). Default: the zero layer.Options (epoch 0, all 0:0, no
// setuid/setgid bits).
func WithLayer(o layer.Options) PutOption { return func(c *putConfig) { c.layer = o } }

// Put moves the built tree at tree into the cache under key, writes its
// layer blob and metadata, and makes the entry visible atomically. If key is
// already cached (for example by a concurrent Put), the existing entry is
// returned and tree is left where it is. Writing the layer stops when ctx
// is done; a ctx already done caches nothing and leaves tree alone.
func (c *Cache) Put(ctx context.Context, key, tree string, opts ...PutOption) (*Entry, error) {
	h, err := keyHex(key)
	if err != nil {
		return nil, err
	}
	var cfg putConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	if e, ok, err := c.Get(key); err != nil || ok {
		return e, err
	}
	fi, err := os.Stat(tree)
	if err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("caching %s: %s is not a directory", key, tree)
	}
	tmp, err := os.MkdirTemp(c.tmpDir(), fmt.Sprintf("put-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := moveTree(tree, filepath.Join(tmp, treeDir)); err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	e := &Entry{Key: key}
	if e.Layer, err = writeLayer(ctx, cfg, filepath.Join(tmp, treeDir), filepath.Join(tmp, layerFile)); err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	meta, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("caching %s: encoding metadata: %w", key, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, metaFile), meta, 0o644); err != nil {
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	// One syncfs makes the whole tree durable before it becomes visible.
	final := filepath.Join(c.entriesDir(), h)
	if err := atomicfile.PublishDir(tmp, final, atomicfile.Step("cache")); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			// A concurrent Put won; put the tree back for the caller.
			_ = moveTree(filepath.Join(tmp, treeDir), tree)
			e, ok, gerr := c.Get(key)
			if gerr == nil && !ok {
				gerr = fmt.Errorf("caching %s: entry vanished after a concurrent put", key)
			}
			return e, gerr
		}
		return nil, fmt.Errorf("caching %s: %w", key, err)
	}
	e.path = final
	e.Dir = filepath.Join(final, treeDir)
	return e, nil
}

func writeLayer(ctx context.Context, cfg putConfig, tree, dst string) (layer.Info, error) {
	f, err := os.Create(dst)
	if err != nil {
		return layer.Info{}, err
	}
	defer f.Close()
	info, err := layer.Write(ctx, tree, f, cfg.layer)
	if err != nil {
		return layer.Info{}, err
	}
	// Put's PublishDir makes the blob durable with one syncfs.
	return info, f.Close()
}

// moveTree renames src to dst, copying across file systems.
func moveTree(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if out, err := exec.Command("cp", "-a", "--", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s into the cache: %v: %s", src, err, strings.TrimSpace(string(out)))
	}
	return os.RemoveAll(src)
}
