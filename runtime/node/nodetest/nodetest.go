// Package nodetest builds small undistro images for tests of the node
// runtime and its commands: each is an OCI image whose metadata label
// declares services, written to an OCI layout with go-containerregistry.
package nodetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"sort"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Role is a test image: files by path (scripts are made executable) and
// its metadata. Each file goes into its own layer, so a changed file is a
// changed layer, as with the builder's per-package layers.
type Role struct {
	Name     string
	Files    map[string]string
	Services []imagespec.Service
	// Created is the config's creation time, which the node compares to
	// refuse downgrades (zero: 1970).
	Created time.Time
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// WriteLayout writes roles into an OCI layout at dir and returns the refs
// ("oci:DIR:ROLE") by role name.
func WriteLayout(t testing.TB, dir string, roles ...Role) map[string]string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, r := range roles {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		meta := imagespec.Image{Role: r.Name, Services: r.Services}
		var paths []string
		for p := range r.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, path := range paths {
			body := r.Files[path]
			mode := int64(0o644)
			if filepath.Ext(path) == ".sh" {
				mode = 0o755
			}
			b := tarOf(t, path, body, mode)
			layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
				tarball.WithMediaType(types.OCILayer))
			if err != nil {
				t.Fatal(err)
			}
			diffID, err := layer.DiffID()
			if err != nil {
				t.Fatal(err)
			}
			pkgName := filepath.Base(path)
			meta.Packages = append(meta.Packages, imagespec.Package{Name: pkgName, Version: "1", DiffID: diffID.String(), Files: []string{path[1:]}})
			meta.Files = append(meta.Files, imagespec.File{Path: path, Mode: uint32(mode), SHA256: sum(body)})
			img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: map[string]string{imagespec.LayerAnnotation: "pkg:" + pkgName + "@1"}})
			if err != nil {
				t.Fatal(err)
			}
		}
		label, err := imagespec.Encode(&meta)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		cf.Created = v1.Time{Time: r.Created.UTC()}
		cf.Config.Labels = map[string]string{imagespec.Label: label}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": r.Name})); err != nil {
			t.Fatal(err)
		}
		refs[r.Name] = "oci:" + dir + ":" + r.Name
	}
	return refs
}

// tarOf returns a tar holding path's parent directories and the file.
func tarOf(t testing.TB, path, body string, mode int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := filepath.Dir(path[1:])
	var dirs []string
	for d := dir; d != "." && d != "/"; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: path[1:], Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body)), ModTime: epoch}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
