package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/un-distro/undistro/builder/layer"
)

func baseParts() KeyParts {
	return KeyParts{
		Recipe:    []byte("name = \"hello\"\n"),
		SourceID:  "sha256:aaaa",
		Options:   map[string]string{"nls": "true"},
		Deps:      map[string]string{"libc": "sha256:bbbb"},
		HostTools: map[string]string{"gcc": "12.2.0"},
		Builder:   "v0.1.0",
		Epoch:     1700000000,
	}
}

func TestKey(t *testing.T) {
	base := Key(baseParts())
	if _, err := keyHex(base); err != nil {
		t.Fatalf("Key returned a malformed key: %v", err)
	}
	tests := []struct {
		name   string
		change func(*KeyParts)
		same   bool
	}{
		{name: "nothing", change: func(*KeyParts) {}, same: true},
		{name: "rebuilt maps", change: func(p *KeyParts) {
			p.Options = map[string]string{"nls": "true"}
			p.Deps = map[string]string{"libc": "sha256:bbbb"}
		}, same: true},
		{name: "recipe", change: func(p *KeyParts) { p.Recipe = append(p.Recipe, ' ') }},
		{name: "source", change: func(p *KeyParts) { p.SourceID = "sha256:aaab" }},
		{name: "option value", change: func(p *KeyParts) { p.Options["nls"] = "false" }},
		{name: "option added", change: func(p *KeyParts) { p.Options["x"] = "" }},
		{name: "dep key", change: func(p *KeyParts) { p.Deps["libc"] = "sha256:cccc" }},
		{name: "dep added", change: func(p *KeyParts) { p.Deps["zlib"] = "sha256:dddd" }},
		{name: "host tool version", change: func(p *KeyParts) { p.HostTools["gcc"] = "12.3.0" }},
		{name: "builder", change: func(p *KeyParts) { p.Builder = "v0.1.1" }},
		{name: "epoch", change: func(p *KeyParts) { p.Epoch++ }},
		{name: "value moved between maps", change: func(p *KeyParts) {
			p.HostTools = map[string]string{}
			p.Options["gcc"] = "12.2.0"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := baseParts()
			tc.change(&p)
			if got := Key(p); (got == base) != tc.same {
				t.Errorf("Key = %s, base %s, want same=%v", got, base, tc.same)
			}
		})
	}
	if Key(KeyParts{}) != Key(KeyParts{Options: map[string]string{}, Deps: map[string]string{}, HostTools: map[string]string{}}) {
		t.Error("nil and empty maps give different keys")
	}
}

func makeTree(t *testing.T, content string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dest")
	if err := os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/bin/hello"), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func TestPutGet(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := Key(baseParts())
	if _, ok, err := c.Get(key); ok || err != nil {
		t.Fatalf("Get on empty cache = %v, %v", ok, err)
	}
	tree := makeTree(t, "hello v1")
	e, err := c.Put(context.Background(), key, tree, WithLayer(layer.Options{Epoch: 42}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree still at %s after Put (%v); want it moved", tree, err)
	}
	if b, err := os.ReadFile(filepath.Join(e.Dir, "usr/bin/hello")); string(b) != "hello v1" {
		t.Errorf("cached tree content = %q, %v", b, err)
	}
	if got := fileDigest(t, c.LayerPath(e)); got != e.Layer.Digest {
		t.Errorf("layer blob digest %s, entry says %s", got, e.Layer.Digest)
	}
	if !reflect.DeepEqual(e.Layer.Files, []string{"usr/bin/hello"}) {
		t.Errorf("Files = %q", e.Layer.Files)
	}
	// The layer was written with the given options.
	var want strings.Builder
	wantInfo, err := layer.Write(context.Background(), e.Dir, &want, layer.Options{Epoch: 42})
	if err != nil {
		t.Fatal(err)
	}
	if wantInfo.Digest != e.Layer.Digest {
		t.Errorf("layer digest %s, layer.Write gives %s", e.Layer.Digest, wantInfo.Digest)
	}

	// Another process opening the cache sees the entry.
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := c2.Get(key)
	if err != nil || !ok {
		t.Fatalf("Get after reopen = %v, %v", ok, err)
	}
	if got.Dir != e.Dir || !reflect.DeepEqual(got.Layer, e.Layer) || c2.LayerPath(got) != c.LayerPath(e) {
		t.Errorf("Get = %+v, Put returned %+v", got, e)
	}

	// Putting an existing key keeps the first entry and leaves the tree.
	tree2 := makeTree(t, "hello v2")
	e2, err := c.Put(context.Background(), key, tree2)
	if err != nil {
		t.Fatal(err)
	}
	if e2.Layer.Digest != e.Layer.Digest {
		t.Error("second Put replaced the entry")
	}
	if _, err := os.Stat(tree2); err != nil {
		t.Errorf("second Put took the tree: %v", err)
	}
}

func TestOpenCleansCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	key := Key(baseParts())
	h, _ := keyHex(key)
	crashed := filepath.Join(c.tmpDir(), fmt.Sprintf("put-%d-123", dead.Process.Pid))
	// A Put that died after writing everything but before its rename.
	if err := os.MkdirAll(filepath.Join(crashed, treeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, metaFile), []byte(`{"key":"`+key+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(c.tmpDir(), fmt.Sprintf("put-%d-456", os.Getpid()))
	garbage := filepath.Join(c.tmpDir(), "junk")
	for _, d := range []string{live, garbage} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := c.Get(key); ok || err != nil {
		t.Fatalf("crashed put visible: %v, %v", ok, err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		keep bool
	}{{crashed, false}, {garbage, false}, {live, true}} {
		_, err := os.Stat(tc.path)
		if kept := err == nil; kept != tc.keep {
			t.Errorf("%s kept=%v, want %v", filepath.Base(tc.path), kept, tc.keep)
		}
	}
	// And a real Put of that key still works.
	if _, err := c.Put(context.Background(), key, makeTree(t, "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.entriesDir(), h, metaFile)); err != nil {
		t.Error(err)
	}
}

func TestConcurrentPut(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := Key(baseParts())
	const n = 4
	trees := make([]string, n)
	for i := range trees {
		trees[i] = makeTree(t, "same content")
	}
	entries := make([]*Entry, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each goroutine opens its own Cache, as separate processes would.
			ci, err := Open(c.Dir())
			if err != nil {
				errs[i] = err
				return
			}
			entries[i], errs[i] = ci.Put(context.Background(), key, trees[i])
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put %d: %v", i, errs[i])
		}
		if entries[i].Dir != entries[0].Dir || entries[i].Layer.Digest != entries[0].Layer.Digest {
			t.Errorf("Put %d returned %+v, Put 0 %+v", i, entries[i], entries[0])
		}
	}
	ents, _ := os.ReadDir(c.entriesDir())
	tmps, _ := os.ReadDir(c.tmpDir())
	if len(ents) != 1 || len(tmps) != 0 {
		t.Errorf("%d entries and %d temp dirs, want 1 and 0", len(ents), len(tmps))
	}
	if got := fileDigest(t, c.LayerPath(entries[0])); got != entries[0].Layer.Digest {
		t.Errorf("blob digest %s, entry %s", got, entries[0].Layer.Digest)
	}
}

func TestErrors(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := Key(baseParts())
	corrupt := Key(KeyParts{Builder: "corrupt"})
	h, _ := keyHex(corrupt)
	if err := os.MkdirAll(filepath.Join(c.entriesDir(), h), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.entriesDir(), h, metaFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{name: "open empty dir", run: func() error { _, err := Open(""); return err }, wantErr: "pass --cache DIR or set UNDISTRO_CACHE"},
		{name: "get bad key", run: func() error { _, _, err := c.Get("md5:abc"); return err }, wantErr: `cache key "md5:abc" is not sha256:<64 lowercase hex digits>`},
		{name: "put bad key", run: func() error { _, err := c.Put(context.Background(), "sha256:ABC", file); return err }, wantErr: `cache key "sha256:ABC" is not`},
		{name: "put missing tree", run: func() error { _, err := c.Put(context.Background(), good, file+".nope"); return err }, wantErr: "no such file or directory"},
		{name: "put file as tree", run: func() error { _, err := c.Put(context.Background(), good, file); return err }, wantErr: file + " is not a directory"},
		{name: "corrupt entry", run: func() error { _, _, err := c.Get(corrupt); return err }, wantErr: "is corrupt"},
		{name: "put with a cancelled context keeps the tree", run: func() error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			tree := makeTree(t, "kept")
			_, err := c.Put(ctx, good, tree)
			if _, serr := os.Stat(tree); serr != nil {
				return fmt.Errorf("tree gone after a cancelled Put (%v): %w", serr, err)
			}
			if _, ok, _ := c.Get(good); ok {
				return fmt.Errorf("a cancelled Put cached the entry: %w", err)
			}
			return err
		}, wantErr: "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
