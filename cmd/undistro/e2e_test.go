package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/un-distro/undistro/builder/image"
	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// The end-to-end tests drive the built binary against the shipped recipes
// and roles, Debian's docker-registry, skopeo and umoci.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// undistroBin builds cmd/undistro once per test run.
func undistroBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "undistro-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "undistro")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func repoRoot(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	testsupport.SkipShort(t, "end-to-end test")
	for _, tool := range tools {
		testsupport.RequireTool(t, tool, "make deps installs it")
	}
}

// run runs the binary in dir and returns stdout; it fails the test on error.
func run(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, args...)
	if err != nil {
		t.Fatalf("undistro %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func runErr(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v\nstderr:\n%s", err, stderr.String())
	}
	return stdout.String(), nil
}

type buildResult struct {
	Role   string `json:"role"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Built  []string
	Layers []struct {
		What string `json:"what"`
	} `json:"layers"`
}

func buildJSON(t *testing.T, dir string, env []string, args ...string) map[string]buildResult {
	t.Helper()
	out := run(t, dir, env, append([]string{"build", "--json", "--quiet"}, args...)...)
	var rs []buildResult
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("decoding build --json output %q: %v", out, err)
	}
	m := map[string]buildResult{}
	for _, r := range rs {
		m[r.Role] = r
	}
	return m
}

// sharedGoCache keeps Go's own build cache between the clean builds: Go
// addresses it by content, so sharing it cannot change outputs, and it saves
// minutes of compiling cosign's dependencies twice.
func sharedGoCache(t *testing.T) string {
	d := filepath.Join(os.TempDir(), "undistro-e2e-gocache")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return "UNDISTRO_GOCACHE=" + d
}

// sharedCache is the build cache the end-to-end tests share within one run
// (the first build in a run is cold; the determinism check uses its own).
func sharedCache(t *testing.T) string {
	cacheOnce.Do(func() {
		cacheDir, cacheErr = os.MkdirTemp("", "undistro-e2e-cache-")
	})
	if cacheErr != nil {
		t.Fatal(cacheErr)
	}
	return cacheDir
}

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

func TestBuildWebEndToEnd(t *testing.T) {
	need(t, "bwrap", "skopeo", "umoci", "docker-registry", "apt-get", "dpkg-source")
	bin := undistroBin(t)
	_ = bin
	// A snapshot, so edits to the working tree during the run cannot change
	// the undistro package (a path source) between builds.
	repo := copyRepo(t, repoRoot(t))
	work := t.TempDir()
	out := filepath.Join(work, "oci")
	gocache := sharedGoCache(t)
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), gocache, "SOURCE_DATE_EPOCH=1700000000"}

	first := buildJSON(t, repo, env, "web", "--out", out)["web"]
	if first.Digest == "" {
		t.Fatal("no digest for web")
	}

	t.Run("no-op rebuild builds nothing", func(t *testing.T) {
		again := buildJSON(t, repo, env, "web", "--out", out)["web"]
		if len(again.Built) != 0 || again.Digest != first.Digest {
			t.Fatalf("rebuild built %v, digest %s (first %s)", again.Built, again.Digest, first.Digest)
		}
	})

	t.Run("skopeo inspects the layout", func(t *testing.T) {
		b, err := exec.Command("skopeo", "inspect", "oci:"+out+":web").CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect: %v\n%s", err, b)
		}
		var got struct {
			Digest string
			Layers []string
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Digest != first.Digest || len(got.Layers) != len(first.Layers) {
			t.Fatalf("skopeo sees %s with %d layers, want %s with %d", got.Digest, len(got.Layers), first.Digest, len(first.Layers))
		}
	})

	t.Run("umoci unpacks it", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "bundle")
		if b, err := exec.Command("umoci", "unpack", "--image", out+":web", bundle).CombinedOutput(); err != nil {
			t.Fatalf("umoci unpack: %v\n%s", err, b)
		}
		for _, p := range []string{"bin/busybox", "usr/bin/httpbin", "usr/bin/undistro", "usr/bin/hello", "etc/ssl/certs/ca-certificates.crt"} {
			if _, err := os.Stat(filepath.Join(bundle, "rootfs", p)); err != nil {
				t.Errorf("rootfs lacks %s: %v", p, err)
			}
		}
	})

	t.Run("validate.Image", func(t *testing.T) {
		idx, err := layout.ImageIndexFromPath(out)
		if err != nil {
			t.Fatal(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range m.Manifests {
			if d.Annotations["org.opencontainers.image.ref.name"] != "web" {
				continue
			}
			found = true
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
		}
		if !found {
			t.Fatal("no manifest annotated ref.name=web")
		}
	})

	t.Run("SBOM of web is valid SPDX 2.3 listing exactly its packages", func(t *testing.T) {
		img, err := image.Load("oci:" + out + ":web")
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		meta, err := imagespec.Decode(cf.Config.Labels)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := sbom.Generate(meta, "oci:"+out+":web", first.Digest, time.Unix(1700000000, 0).UTC())
		if err != nil {
			t.Fatal(err)
		}
		if err := sbom.Validate(doc); err != nil {
			t.Fatalf("SBOM of web: %v", err)
		}
		var parsed struct {
			Packages []struct{ Name, VersionInfo string } `json:"packages"`
		}
		if err := json.Unmarshal(doc, &parsed); err != nil {
			t.Fatal(err)
		}
		// Names exactly; versions as the image has them (the SBOM appends
		// "_REVISION" when a recipe's revision is bumped).
		got := map[string]string{}
		for _, p := range parsed.Packages {
			if p.Name != "web" {
				got[p.Name] = p.VersionInfo
			}
		}
		want := map[string]string{}
		for _, p := range meta.Packages {
			want[p.Name] = p.Version
		}
		if len(got) != len(want) || len(want) != 5 {
			t.Fatalf("SBOM lists %v, image holds %v", got, want)
		}
		for name, v := range want {
			if g, ok := got[name]; !ok || !strings.HasPrefix(g, v) {
				t.Errorf("SBOM has %s at %q, image has version %q", name, g, v)
			}
		}
	})

	t.Run("push to docker-registry and pull back by digest", func(t *testing.T) {
		addr := startDockerRegistry(t)
		buildJSON(t, repo, env, "web", "--out", out, "--push", addr+"/undistro")
		ref, err := name.ParseReference(addr+"/undistro/web@"+first.Digest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pulling back %s: %v", ref, err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("pulled image invalid: %v", err)
		}
		if b, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "docker://"+addr+"/undistro/web:latest").CombinedOutput(); err != nil || !strings.Contains(string(b), first.Digest) {
			t.Fatalf("skopeo inspect of the pushed tag: %v\n%s", err, b)
		}
	})

	t.Run("determinism: clean caches, another directory, later", func(t *testing.T) {
		other := copyRepo(t, repo)
		env2 := []string{"UNDISTRO_CACHE=" + filepath.Join(t.TempDir(), "cache"), gocache, "SOURCE_DATE_EPOCH=1700000000", "TZ=Asia/Tokyo"}
		second := buildJSON(t, other, env2, "web", "--out", filepath.Join(t.TempDir(), "oci"))["web"]
		if second.Digest != first.Digest {
			t.Fatalf("second clean build: %s, first: %s", second.Digest, first.Digest)
		}
	})
}

// startDockerRegistry runs Debian's docker-registry on a free loopback port.
func startDockerRegistry(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	body := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "docker-registry", "serve", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
