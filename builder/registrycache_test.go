package builder

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/remotecache"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// newSigner writes a cosign key pair under dir and returns its signer and
// the path of its public key.
func newSigner(t *testing.T, dir, prefix string) (*sign.Signer, string) {
	t.Helper()
	ctx := context.Background()
	pass := func() ([]byte, error) { return []byte("test"), nil }
	key := filepath.Join(dir, prefix)
	if err := sign.GenerateKey(ctx, key, pass); err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewSigner(key+".key", pass)
	if err != nil {
		t.Fatal(err)
	}
	return s, key + ".pub"
}

func gitRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	fixture(t, repo)
	git := exec.Command("sh", "-c", "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm fixture && git remote add origin https://example.com/undistro.git")
	git.Dir = repo
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git: %v\n%s", err, out)
	}
	return repo
}

func clone(t *testing.T, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", repo, dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	// The same origin as the first checkout (it names the image's source).
	if out, err := exec.Command("git", "-C", dir, "remote", "set-url", "origin", "https://example.com/undistro.git").CombinedOutput(); err != nil {
		t.Fatalf("git remote: %v\n%s", err, out)
	}
	return dir
}

// machine builds the fixture role "app" of repo with a cache directory
// of its own.
func machine(t *testing.T, repo string, opts ...Option) Result {
	t.Helper()
	r, _ := machineOut(t, context.Background(), repo, opts...)
	return r
}

// machineLogged is machine with the build's logs (Info and up) written to
// logs.
func machineLogged(t *testing.T, logs *bytes.Buffer, repo string, opts ...Option) Result {
	t.Helper()
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(logs, nil)))
	r, _ := machineOut(t, ctx, repo, opts...)
	return r
}

func machineOut(t *testing.T, ctx context.Context, repo string, opts ...Option) (Result, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oci")
	opts = append([]Option{WithRepo(repo), WithCache(t.TempDir()), WithOutput(out), WithJobs(1)}, opts...)
	res, err := Build(ctx, []string{"app"}, opts...)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("results: %+v", res)
	}
	return res[0], out
}

// TestRegistryCache is the "two machines" check: machine A builds and pushes
// every package to a registry; machine B, with a fresh cache and A's public
// key, builds the same commit without building anything, and gets the same
// image digest. Entries signed by another key are ignored and rebuilt.
func TestRegistryCache(t *testing.T) {
	needBwrap(t)
	ctx := context.Background()
	keys := t.TempDir()
	signerA, pubA := newSigner(t, keys, "a")
	signerX, pubX := newSigner(t, keys, "x")
	pubABytes, err := os.ReadFile(pubA)
	if err != nil {
		t.Fatal(err)
	}
	prefix := imagetest.Registry(t) + "/undistro"
	repo := gitRepo(t)
	all := []string{"a", "b", "c"}

	a, outA := machineOut(t, context.Background(), repo, WithCacheRegistry(prefix), WithCachePush(signerA))
	if got := sorted(a.Built); !slices.Equal(got, all) || len(a.Pulled) != 0 {
		t.Fatalf("machine A built %v, pulled %v; want all of %v built", a.Built, a.Pulled, all)
	}

	t.Run("trusted entries are pulled, not built", func(t *testing.T) {
		b := machine(t, clone(t, repo), WithCacheRegistry(prefix), WithCacheKeys(pubABytes))
		if len(b.Built) != 0 || !slices.Equal(sorted(b.Cached), all) || !slices.Equal(sorted(b.Pulled), all) {
			t.Fatalf("machine B built %v, cached %v, pulled %v; want nothing built and %v pulled", b.Built, b.Cached, b.Pulled, all)
		}
		if b.Digest != a.Digest {
			t.Fatalf("machine B's image %s differs from machine A's %s", b.Digest, a.Digest)
		}
	})

	t.Run("an unreachable registry costs one warning", func(t *testing.T) {
		var logs bytes.Buffer
		b := machineLogged(t, &logs, repo, WithCacheRegistry("127.0.0.1:1/undistro"), WithCacheKeys(pubABytes))
		if !slices.Equal(sorted(b.Built), all) || b.Digest != a.Digest {
			t.Fatalf("built %v, digest %s; want all built, digest %s", b.Built, b.Digest, a.Digest)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "cache registry unavailable") {
			t.Fatalf("%d warnings, want one saying the registry is unavailable:\n%s", n, logs.String())
		}
	})

	t.Run("entries signed by an untrusted key are rebuilt", func(t *testing.T) {
		var logs bytes.Buffer
		b := machineLogged(t, &logs, clone(t, repo), WithCacheRegistry(prefix), WithCacheKeyFiles(pubX))
		if !slices.Equal(sorted(b.Built), all) || len(b.Pulled) != 0 || b.Digest != a.Digest {
			t.Fatalf("trusting only X: built %v, pulled %v, digest %s (A: %s); want all rebuilt, same digest", b.Built, b.Pulled, b.Digest, a.Digest)
		}
		if n := strings.Count(logs.String(), "ignoring the cache registry's entry"); n != len(all) {
			t.Fatalf("%d warnings about ignored entries, want %d:\n%s", n, len(all), logs.String())
		}
	})

	t.Run("a poisoned entry signed by another key is rebuilt", func(t *testing.T) {
		// X replaces c's entry with other content under the same tag.
		keyC := buildKey(t, outA, "c")
		evil, err := cache.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		tree := filepath.Join(t.TempDir(), "tree")
		if err := os.MkdirAll(filepath.Join(tree, "usr/share/c"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "usr/share/c/out.txt"), []byte("evil\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := evil.Put(ctx, keyC, tree)
		if err != nil {
			t.Fatal(err)
		}
		store, err := remotecache.New(prefix, remotecache.WithSigner(signerX))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Push(ctx, evil, "c", e); err != nil {
			t.Fatal(err)
		}
		b := machine(t, clone(t, repo), WithCacheRegistry(prefix), WithCacheKeyFiles(pubA))
		if !slices.Equal(b.Built, []string{"c"}) || !slices.Equal(sorted(b.Pulled), []string{"a", "b"}) {
			t.Fatalf("built %v, pulled %v; want c rebuilt, a and b pulled", b.Built, b.Pulled)
		}
		if b.Digest != a.Digest {
			t.Fatalf("image %s differs from machine A's %s: the poisoned entry was used", b.Digest, a.Digest)
		}
	})
}

// buildKey returns the build key of package pkg in the layout's app image.
func buildKey(t *testing.T, out, pkg string) string {
	t.Helper()
	for _, p := range imageMeta(t, out, "app").Packages {
		if p.Name == pkg {
			return p.BuildKey
		}
	}
	t.Fatalf("no package %s in the app image", pkg)
	return ""
}

// TestSigningPushesToCacheRegistry checks the builder's rule that a build
// signing its images with a registry cache pushes its packages there,
// signed by the same key and asking the key's password once; and that
// without a registry there is no cache push.
func TestSigningPushesToCacheRegistry(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := sign.GenerateKey(context.Background(), key, func() ([]byte, error) { return []byte("test"), nil }); err != nil {
		t.Fatal(err)
	}
	prompts := 0
	pass := func() ([]byte, error) { prompts++; return []byte("test"), nil }
	out := filepath.Join(dir, "oci")
	repo := t.TempDir()
	fixture(t, repo)
	c, err := newConfig([]Option{WithRepo(repo), WithOutput(out), WithCacheRegistry("127.0.0.1:1/undistro"), WithSigning(key+".key", pass)})
	if err != nil {
		t.Fatalf("newConfig: %v", err)
	}
	if c.cachePush == nil || c.cachePushKey == nil {
		t.Fatal("signing with a cache registry: no cache push signer")
	}
	if _, err := sign.NewSigner(c.signKey, c.signPass); err != nil { // the image signer, later
		t.Fatal(err)
	}
	if prompts != 1 {
		t.Errorf("password asked %d times, want 1", prompts)
	}
	c, err = newConfig([]Option{WithRepo(repo), WithOutput(out), WithSigning(key+".key", pass)})
	if err != nil {
		t.Fatalf("newConfig without a registry: %v", err)
	}
	if c.cachePush != nil {
		t.Error("no cache registry, yet a cache push signer")
	}
	if _, err := newConfig([]Option{WithRepo(repo), WithOutput(out), WithCacheRegistry("127.0.0.1:1/undistro"), WithSigning(key+".key",
		func() ([]byte, error) { return []byte("wrong"), nil })}); err == nil || !strings.Contains(err.Error(), "for the registry cache") {
		t.Errorf("wrong password: error = %v, want one about the registry cache's signing key", err)
	}
}
