package imagetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
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

// Image is a test undistro image: its layers and its metadata (Role is
// set from the Role field).
type Image struct {
	Role   string
	Layers [][]Entry
	Meta   imagespec.Image
	// LayerNames name the layers in their imagespec.LayerAnnotation
	// ("pkg:NAME@1"); unset ones are named l0, l1, ...
	LayerNames []string
	// Created is the config's creation time, which the node compares to
	// refuse downgrades (zero: 1970).
	Created time.Time
}

// Build returns img as an OCI image with linux/amd64 config and the
// metadata label.
func Build(t testing.TB, img Image) v1.Image {
	t.Helper()
	out := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	for i, l := range img.Layers {
		b := Tar(t, l)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("l%d", i)
		if i < len(img.LayerNames) {
			name = img.LayerNames[i]
		}
		out, err = mutate.Append(out, mutate.Addendum{Layer: layer, Annotations: map[string]string{imagespec.LayerAnnotation: "pkg:" + name + "@1"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	meta := img.Meta
	meta.Role = img.Role
	label, err := imagespec.Encode(&meta)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := out.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: img.Created.UTC()}
	cf.Config.Labels = map[string]string{imagespec.Label: label}
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteLayout writes imgs to a new OCI layout at dir, each named by its
// role, and returns their digests by role.
func WriteLayout(t testing.TB, dir string, imgs ...Image) map[string]string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, ti := range imgs {
		img := Build(t, ti)
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{imagespec.RefNameAnnotation: ti.Role})); err != nil {
			t.Fatal(err)
		}
		dg, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[ti.Role] = dg.String()
	}
	return digests
}

// Role is a test image for the node runtime: files by absolute path
// (".sh" files are executable) and the services it declares. Each file
// goes into its own layer, a package named after the file, so a changed
// file is a changed layer, as with the builder's per-package layers.
type Role struct {
	Name     string
	Files    map[string]string
	Services []imagespec.Service
	// Created: see [Image].
	Created time.Time
	// Sources, when set for a path, is its role file's repository path
	// (imagespec.File.Source); Templates marks role files as templates.
	Sources   map[string]string
	Templates map[string]bool
	// Config is the role's /etc policy.
	Config imagespec.ConfigPolicy
}

// WriteRoles writes roles into a new OCI layout at dir and returns their
// references ("oci:DIR:ROLE") by role name.
func WriteRoles(t testing.TB, dir string, roles ...Role) map[string]string {
	t.Helper()
	var imgs []Image
	for _, r := range roles {
		img := Image{Role: r.Name, Meta: imagespec.Image{Services: r.Services, Config: r.Config}, Created: r.Created}
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
			rel := strings.TrimPrefix(path, "/")
			var layer []Entry
			for _, d := range parents(rel) {
				layer = append(layer, Dir(d+"/"))
			}
			layer = append(layer, Entry{Name: rel, Body: body, Type: tar.TypeReg, Mode: mode})
			b := Tar(t, layer)
			diffID := sha256.Sum256(b)
			pkg := filepath.Base(path)
			sum := sha256.Sum256([]byte(body))
			img.Layers = append(img.Layers, layer)
			img.LayerNames = append(img.LayerNames, pkg)
			img.Meta.Packages = append(img.Meta.Packages, imagespec.Package{Name: pkg, Version: "1", DiffID: "sha256:" + hex.EncodeToString(diffID[:]), Files: []string{rel}})
			img.Meta.Files = append(img.Meta.Files, imagespec.File{Path: path, Mode: uint32(mode), SHA256: "sha256:" + hex.EncodeToString(sum[:]),
				Source: r.Sources[path], Template: r.Templates[path]})
		}
		imgs = append(imgs, img)
	}
	WriteLayout(t, dir, imgs...)
	refs := map[string]string{}
	for _, r := range roles {
		refs[r.Name] = imagespec.LayoutPrefix + dir + ":" + r.Name
	}
	return refs
}

// parents returns the parent directories of the relative path rel,
// outermost first.
func parents(rel string) []string {
	var dirs []string
	for d := filepath.Dir(rel); d != "." && d != "/"; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}
