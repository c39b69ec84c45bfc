package image

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/un-distro/undistro/internal/testsupport"
)

func readIndex(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

func TestWriteLayoutAndLoad(t *testing.T) {
	f := newFixture(t, "hello v1\n")
	web := f.assemble(t, testEpoch)
	base, err := Assemble(f.layers[:1], Config{Role: "base", Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteLayout(dir, map[string]v1.Image{"web": web, "base": base}); err != nil {
		t.Fatal(err)
	}
	im := readIndex(t, dir)
	if len(im.Manifests) != 2 || im.Manifests[0].Annotations[RefNameAnnotation] != "base" || im.Manifests[1].Annotations[RefNameAnnotation] != "web" {
		t.Fatalf("index = %+v", im.Manifests)
	}
	if p := im.Manifests[1].Platform; p == nil || p.OS != "linux" || p.Architecture != "amd64" {
		t.Errorf("web platform = %+v", p)
	}
	// The layout reads back with go-containerregistry's own reader.
	if _, err := layout.ImageIndexFromPath(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load("oci:" + dir + ":web")
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, web) {
		t.Errorf("loaded web %s, wrote %s", digestOf(t, got), digestOf(t, web))
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate.Image(loaded): %v", err)
	}

	// Rewriting web replaces its entry and keeps base.
	web2 := newFixture(t, "hello v2\n").assemble(t, testEpoch)
	if err := WriteLayout(dir, map[string]v1.Image{"web": web2}); err != nil {
		t.Fatal(err)
	}
	im = readIndex(t, dir)
	if len(im.Manifests) != 2 || im.Manifests[1].Digest.String() != digestOf(t, web2) || im.Manifests[0].Digest.String() != digestOf(t, base) {
		t.Errorf("after rewrite index = %+v", im.Manifests)
	}
	if got, err := Load("oci:" + dir + ":base"); err != nil || digestOf(t, got) != digestOf(t, base) {
		t.Errorf("base after rewrite: %v", err)
	}
	// No temp files are left behind.
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temp file left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	single := filepath.Join(t.TempDir(), "single")
	if err := WriteLayout(single, map[string]v1.Image{"base": base}); err != nil {
		t.Fatal(err)
	}
	if got, err := Load("oci:" + single); err != nil || digestOf(t, got) != digestOf(t, base) {
		t.Errorf("Load of a one-image layout without a role: %v", err)
	}

	for _, tc := range []struct {
		name, ref, wantErr string
	}{
		{name: "ambiguous", ref: "oci:" + dir, wantErr: "holds 2 images (base, web): name one as oci:"},
		{name: "unknown role", ref: "oci:" + dir + ":db", wantErr: `has no image named "db"; it has: base, web`},
		{name: "not a layout", ref: "oci:" + t.TempDir() + ":web", wantErr: "reading OCI layout"},
		{name: "bad reference", ref: "Not A Ref!", wantErr: `parsing image reference "Not A Ref!"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.ref)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestWriteLayoutCorruptIndex(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Assemble(nil, Config{Role: "x"})
	if err != nil {
		t.Fatal(err)
	}
	err = WriteLayout(dir, map[string]v1.Image{"x": img})
	if err == nil || !strings.Contains(err.Error(), "remove it or pick another --out") {
		t.Fatalf("err = %v", err)
	}
}

// TestLayoutTools checks the layout with the Debian tools the issue names,
// where installed (CI installs them).
func TestLayoutTools(t *testing.T) {
	f := newFixture(t, "hello v1\n")
	web := f.assemble(t, testEpoch)
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteLayout(dir, map[string]v1.Image{"web": web}); err != nil {
		t.Fatal(err)
	}
	t.Run("skopeo", func(t *testing.T) {
		testsupport.RequireTool(t, "skopeo", "apt-get install skopeo")
		out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+dir+":web").Output()
		if err != nil {
			t.Fatalf("skopeo inspect: %v", err)
		}
		raw, _ := web.RawManifest()
		if string(out) != string(raw) {
			t.Errorf("skopeo read manifest %s, want %s", out, raw)
		}
	})
	t.Run("umoci", func(t *testing.T) {
		testsupport.RequireTool(t, "umoci", "apt-get install umoci")
		bundle := filepath.Join(t.TempDir(), "bundle")
		args := []string{"unpack", "--image", dir + ":web", bundle}
		if os.Geteuid() != 0 {
			args = append([]string{"unpack", "--rootless"}, args[1:]...)
		}
		if out, err := exec.Command("umoci", args...).CombinedOutput(); err != nil {
			t.Fatalf("umoci unpack: %v: %s", err, out)
		}
		if b, err := os.ReadFile(filepath.Join(bundle, "rootfs/usr/bin/hello")); err != nil || string(b) != "hello v1\n" {
			t.Errorf("umoci rootfs hello = %q, %v", b, err)
		}
	})
}

func TestPushPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	f := newFixture(t, "hello v1\n")
	img := f.assemble(t, testEpoch)
	digest, err := Push(context.Background(), host+"/undistro/web:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	if digest != digestOf(t, img) {
		t.Errorf("Push returned %s, image digest %s", digest, digestOf(t, img))
	}
	ref, err := name.ParseReference(host + "/undistro/web@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(pulled); err != nil {
		t.Fatalf("validate.Image(pulled): %v", err)
	}
	if digestOf(t, pulled) != digest {
		t.Errorf("pulled %s, pushed %s", digestOf(t, pulled), digest)
	}
	loaded, err := Load(host + "/undistro/web:latest")
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, loaded) != digest {
		t.Errorf("Load by tag %s, pushed %s", digestOf(t, loaded), digest)
	}
	if _, err := Push(context.Background(), "bad ref!", img); err == nil || !strings.Contains(err.Error(), `parsing push reference "bad ref!"`) {
		t.Errorf("bad ref err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Push(ctx, host+"/undistro/other:latest", img); err == nil {
		t.Error("push with a cancelled context succeeded")
	}
}
