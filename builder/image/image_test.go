package image

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/runtime/imagespec"
)

const testEpoch = 1700000000

// fixture is two package layers and a config-file layer written by
// builder/layer, and the metadata describing them.
type fixture struct {
	layers []Layer
	meta   *imagespec.Image
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T, helloContent string) fixture {
	t.Helper()
	dir := t.TempDir()
	var f fixture
	f.meta = &imagespec.Image{Role: "web"}
	pkgs := []struct{ name, version, file, content string }{
		{"busybox", "1.35.0", "bin/busybox", "#!/bin/sh\necho busybox\n"},
		{"hello", "2.12", "usr/bin/hello", helloContent},
	}
	for _, p := range pkgs {
		tree := filepath.Join(dir, p.name)
		writeFile(t, filepath.Join(tree, p.file), p.content, 0o755)
		if p.name == "busybox" {
			if err := os.Symlink("busybox", filepath.Join(tree, "bin/sh")); err != nil {
				t.Fatal(err)
			}
		}
		blob := filepath.Join(dir, p.name+".tar.gz")
		out, err := os.Create(blob)
		if err != nil {
			t.Fatal(err)
		}
		info, err := layer.Write(context.Background(), tree, out, layer.Options{Epoch: testEpoch})
		if err != nil {
			t.Fatal(err)
		}
		out.Close()
		ann := "pkg:" + p.name + "@" + p.version
		f.layers = append(f.layers, Layer{Path: blob, Info: info, Annotation: ann})
		f.meta.Packages = append(f.meta.Packages, imagespec.Package{
			Name: p.name, Version: p.version, License: "GPL-2.0", Source: "deb:" + p.name,
			SourceSum: "sha256:00", BuildKey: "sha256:11", DiffID: info.DiffID, Files: info.Files,
		})
	}
	conf := filepath.Join(dir, "whoami.conf")
	writeFile(t, conf, "port=80\n", 0o644)
	blob := filepath.Join(dir, "files.tar.gz")
	out, err := os.Create(blob)
	if err != nil {
		t.Fatal(err)
	}
	info, err := layer.WriteFiles(context.Background(), []layer.File{{Path: "/etc/whoami.conf", Source: conf, Mode: 0o640, UID: 0, GID: 0}}, out, layer.Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	f.layers = append(f.layers, Layer{Path: blob, Info: info, Annotation: "files:web"})
	f.meta.Files = []imagespec.File{{Path: "/etc/whoami.conf", Mode: 0o640, SHA256: "sha256:22"}}
	f.meta.Services = []imagespec.Service{{Name: "hello", Package: "hello", Exec: []string{"/usr/bin/hello"}, Restart: imagespec.RestartAlways, Files: []string{"/etc/whoami.conf"}}}
	return f
}

func (f fixture) assemble(t *testing.T, epoch int64) v1.Image {
	t.Helper()
	img, err := Assemble(f.layers, Config{
		Role:   "web",
		Epoch:  epoch,
		Labels: map[string]string{SourceLabel: "https://example.com/undistro", RevisionLabel: "abc123"},
		Meta:   f.meta,
		Env:    []string{"PATH=/usr/bin:/bin"},
		Arch:   "amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestAssemble(t *testing.T) {
	f := newFixture(t, "hello v1\n")
	img := f.assemble(t, testEpoch)
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s / %s, want OCI", m.MediaType, m.Config.MediaType)
	}
	var anns []string
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d media type %s", i, l.MediaType)
		}
		if l.Digest.String() != f.layers[i].Info.Digest || l.Size != f.layers[i].Info.Size {
			t.Errorf("layer %d = %s/%d, want %s/%d (recompressed?)", i, l.Digest, l.Size, f.layers[i].Info.Digest, f.layers[i].Info.Size)
		}
		anns = append(anns, l.Annotations[imagespec.LayerAnnotation])
		// The infohash annotation is the blob's btmeta infohash.
		blob, err := os.Open(f.layers[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		info, err := btmeta.Compute(blob, l.Digest.String(), l.Size)
		blob.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := btmeta.FromAnnotations(l.Annotations); !ok || err != nil || got != info.Hash() {
			t.Errorf("layer %d %s = %s (ok=%v, %v), want %s", i, btmeta.Annotation, got, ok, err, info.Hash())
		}
	}
	if want := []string{"pkg:busybox@1.35.0", "pkg:hello@2.12", "files:web"}; !reflect.DeepEqual(anns, want) {
		t.Errorf("layer annotations %q, want %q", anns, want)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Created.Unix() != testEpoch {
		t.Errorf("config os=%s arch=%s created=%v", cf.OS, cf.Architecture, cf.Created)
	}
	if len(cf.History) != 3 || cf.History[1].Created.Unix() != testEpoch || cf.History[1].CreatedBy != "undistro build pkg:hello@2.12" {
		t.Errorf("history = %+v", cf.History)
	}
	if cf.Config.Labels[RevisionLabel] != "abc123" || cf.Config.Labels[SourceLabel] == "" {
		t.Errorf("labels = %v", cf.Config.Labels)
	}
	meta, err := imagespec.Decode(cf.Config.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Role != "web" || len(meta.Packages) != 2 || meta.Packages[1].DiffID != f.layers[1].Info.DiffID {
		t.Errorf("decoded metadata = %+v", meta)
	}

	// Determinism: the same inputs give the same manifest digest, and the
	// epoch is an input.
	if d1, d2 := digestOf(t, img), digestOf(t, f.assemble(t, testEpoch)); d1 != d2 {
		t.Errorf("assembling twice: %s then %s", d1, d2)
	}
	// Same content written again in another directory: same digest.
	if d1, d2 := digestOf(t, img), digestOf(t, newFixture(t, "hello v1\n").assemble(t, testEpoch)); d1 != d2 {
		t.Errorf("same content in another directory: %s vs %s", d1, d2)
	}
	if digestOf(t, img) == digestOf(t, f.assemble(t, testEpoch+1)) {
		t.Error("epoch does not change the digest")
	}
}

func TestAssembleErrors(t *testing.T) {
	f := newFixture(t, "x")
	withInfo := func(change func(*Layer)) []Layer {
		ls := append([]Layer{}, f.layers...)
		change(&ls[0])
		return ls
	}
	badMeta := *f.meta
	badMeta.Packages = []imagespec.Package{{Name: "ghost", DiffID: "sha256:" + strings.Repeat("0", 64)}}
	tests := []struct {
		name    string
		layers  []Layer
		cfg     Config
		wantErr string
	}{
		{name: "no role", layers: f.layers, cfg: Config{}, wantErr: "the role name is empty"},
		{name: "negative epoch", layers: f.layers, cfg: Config{Role: "web", Epoch: -5}, wantErr: "epoch -5 is negative"},
		{name: "bad digest", layers: withInfo(func(l *Layer) { l.Info.Digest = "md5:x" }), cfg: Config{Role: "web"}, wantErr: `digest "md5:x"`},
		{name: "bad diffID", layers: withInfo(func(l *Layer) { l.Info.DiffID = "" }), cfg: Config{Role: "web"}, wantErr: `diffID ""`},
		{name: "size mismatch", layers: withInfo(func(l *Layer) { l.Info.Size++ }), cfg: Config{Role: "web"}, wantErr: "the blob changed since it was written"},
		{name: "missing blob", layers: withInfo(func(l *Layer) { l.Path += ".gone" }), cfg: Config{Role: "web"}, wantErr: "no such file or directory"},
		{name: "blob changed in place", layers: withInfo(func(l *Layer) { l.Info.Digest = "sha256:" + strings.Repeat("0", 64) }), cfg: Config{Role: "web"}, wantErr: "blob does not match its description"},
		{name: "metadata names a missing layer", layers: f.layers, cfg: Config{Role: "web", Meta: &badMeta}, wantErr: "metadata gives package ghost the layer sha256:000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Assemble(tc.layers, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestAssembleNoLayers(t *testing.T) {
	img, err := Assemble(nil, Config{Role: "empty", Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
}
