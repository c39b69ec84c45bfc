package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/imagespec"
)

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// WriteLayout writes imgs into the OCI image layout at dir (created if
// needed), one manifest per role annotated RefNameAnnotation=ROLE. An index
// entry with the same role is replaced; other roles are kept. Every blob and
// the index are written to a temp file, fsynced and renamed, so a crash
// leaves the old index or the new one, each complete.
func WriteLayout(dir string, imgs map[string]v1.Image) error {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "oci-layout"), []byte(layoutFile), 0o644); err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &index); err != nil {
			return fmt.Errorf("reading %s: %w: remove it or pick another --out", filepath.Join(dir, "index.json"), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("reading OCI layout index: %w", err)
	}

	kept := index.Manifests[:0]
	for _, d := range index.Manifests {
		if _, replaced := imgs[d.Annotations[RefNameAnnotation]]; !replaced {
			kept = append(kept, d)
		}
	}
	index.Manifests = kept
	roles := make([]string, 0, len(imgs))
	for role := range imgs {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	for _, role := range roles {
		if role == "" {
			return errors.New("writing OCI layout: empty role name")
		}
		desc, err := writeImageBlobs(dir, imgs[role])
		if err != nil {
			return fmt.Errorf("writing image %s to %s: %w", role, dir, err)
		}
		desc.Annotations = map[string]string{RefNameAnnotation: role}
		index.Manifests = append(index.Manifests, desc)
	}
	sort.SliceStable(index.Manifests, func(i, j int) bool {
		a, b := index.Manifests[i], index.Manifests[j]
		if ra, rb := a.Annotations[RefNameAnnotation], b.Annotations[RefNameAnnotation]; ra != rb {
			return ra < rb
		}
		return a.Digest.String() < b.Digest.String()
	})
	out, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding OCI layout index: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "index.json"), append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing OCI layout index: %w", err)
	}
	return nil
}

// writeImageBlobs writes img's layers, config and manifest into dir's
// blobs and returns the manifest's descriptor.
func writeImageBlobs(dir string, img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		size, err := l.Size()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if err := writeBlob(dir, d, size, l.Compressed); err != nil {
			return v1.Descriptor{}, err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBytesBlob(dir, cfgName, cfg); err != nil {
		return v1.Descriptor{}, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBytesBlob(dir, digest, manifest); err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(manifest)), Digest: digest}
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
		desc.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	return desc, nil
}

func writeBytesBlob(dir string, h v1.Hash, b []byte) error {
	return writeBlob(dir, h, int64(len(b)), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// writeBlob writes the blob h unless a file of that name and size exists,
// verifying the digest of what it copies.
func writeBlob(dir string, h v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 is supported", h)
	}
	p := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := atomicfile.WriteBlob(p, rc, h.Hex, size, 0o644); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	return nil
}

// Load returns the image at ref: "oci:PATH[:ROLE]" for an OCI layout
// (ROLE may be omitted when the layout holds one image), or a registry
// reference such as "127.0.0.1:5000/undistro/web:latest".
func Load(ref string, opts ...remote.Option) (v1.Image, error) {
	if p, ok := strings.CutPrefix(ref, "oci:"); ok {
		return loadLayout(p)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w (use oci:PATH[:ROLE] for an OCI layout)", ref, err)
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	return img, nil
}

func loadLayout(spec string) (v1.Image, error) {
	dir, role := imagespec.SplitLayoutRef(spec, isDir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	var roles []string
	for _, d := range im.Manifests {
		r := d.Annotations[RefNameAnnotation]
		roles = append(roles, r)
		if r == role || (role == "" && len(im.Manifests) == 1) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %s from %s: %w", r, dir, err)
			}
			return img, nil
		}
	}
	if role == "" {
		return nil, fmt.Errorf("OCI layout %s holds %d images (%s): name one as oci:%s:ROLE", dir, len(roles), strings.Join(roles, ", "), dir)
	}
	return nil, fmt.Errorf("OCI layout %s has no image named %q; it has: %s", dir, role, strings.Join(roles, ", "))
}

// isDir reports whether path is a directory: how a layout reference whose
// path holds a colon is told from PATH:ROLE.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
