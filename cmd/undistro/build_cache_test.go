//go:build !undistro_node

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// tinyRepo is a git repository with one package and one role.
func tinyRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"recipes/hello.toml": "name = \"hello\"\nversion = \"1.0\"\nlicense = \"MIT\"\n[source]\npath = \"src/hello\"\n[build]\nscript = \"\"\"\nmkdir -p $DESTDIR/usr/share/hello\ncp msg $DESTDIR/usr/share/hello/\n\"\"\"\n",
		"images/tiny.toml":   "packages = [\"hello\"]\n",
		"src/hello/msg":      "hi\n",
	}
	testsupport.WriteFiles(t, dir, files)
	git := exec.Command("sh", "-c", "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm tiny")
	git.Dir = dir
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git: %v\n%s", err, out)
	}
	return dir
}

// TestBuildCacheRegistry drives `build --cache-registry` twice: with
// --sign-key the first run builds and pushes, the second (a fresh cache,
// --cache-key) pulls and lists the package under "cached".
func TestBuildCacheRegistry(t *testing.T) {
	testsupport.RequireTool(t, "bwrap", "apt-get install bubblewrap")
	ctx := context.Background()
	t.Setenv("COSIGN_PASSWORD", "test")
	keyDir := t.TempDir()
	if err := sign.GenerateKey(ctx, filepath.Join(keyDir, "ci"), func() ([]byte, error) { return []byte("test"), nil }); err != nil {
		t.Fatal(err)
	}
	repo := tinyRepo(t)
	reg := imagetest.Registry(t) + "/undistro"
	type result struct {
		Digest string
		Built  []string
		Cached []string
		Pulled []string
	}
	buildJSON := func(args ...string) result {
		t.Helper()
		out, err := undistro(ctx, append([]string{"build", "tiny", "--json", "--quiet", "--repo", repo,
			"--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "oci"), "--cache-registry", reg}, args...)...)
		if err != nil {
			t.Fatalf("build %v: %v", args, err)
		}
		var rs []result
		if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
			t.Fatalf("build --json printed %q: %v", out, err)
		}
		return rs[0]
	}
	a := buildJSON("--sign-key", filepath.Join(keyDir, "ci.key"))
	if !slices.Equal(a.Built, []string{"hello"}) {
		t.Fatalf("first build: built %v", a.Built)
	}
	b := buildJSON("--cache-key", filepath.Join(keyDir, "ci.pub"))
	if len(b.Built) != 0 || !slices.Equal(b.Cached, []string{"hello"}) || !slices.Equal(b.Pulled, []string{"hello"}) || b.Digest != a.Digest {
		t.Fatalf("second build: %+v; want hello pulled and listed as cached, digest %s", b, a.Digest)
	}
}

func TestBuildCacheFlagErrors(t *testing.T) {
	repo := tinyRepo(t)
	pub := filepath.Join(t.TempDir(), "k.pub")
	if err := os.WriteFile(pub, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good.pub")
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"key without registry", []string{"--cache-key", good}, "--cache-key needs --cache-registry"},
		{"registry without key", []string{"--cache-registry", "127.0.0.1:1/undistro"}, "no trusted key: pass --cache-key PUB"},
		{"bad registry", []string{"--cache-registry", "UPPER CASE", "--cache-key", pub}, `cache registry "UPPER CASE" is not REGISTRY/PREFIX`},
		{"bad key file", []string{"--cache-registry", "127.0.0.1:1/undistro", "--cache-key", pub}, "cache key " + pub},
		{"missing key file", []string{"--cache-registry", "127.0.0.1:1/undistro", "--cache-key", pub + ".missing"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := undistro(context.Background(), append([]string{"build", "tiny", "--repo", repo, "--cache", t.TempDir(),
				"--out", filepath.Join(t.TempDir(), "oci")}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
