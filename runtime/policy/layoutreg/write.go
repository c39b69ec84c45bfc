package layoutreg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// WriteImage adds img to the OCI layout at dir under the ref.name refName,
// replacing any entry of that name. Each blob is written to a temporary
// file, fsynced and renamed; index.json is replaced last the same way, so a
// crash leaves the layout as it was or with img, never half.
func WriteImage(dir string, img v1.Image, refName string) error {
	if _, err := readIndex(dir); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers of %s: %w", refName, err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("digesting layer of %s: %w", refName, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", d, err)
		}
		err = writeBlob(dir, d, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config of %s: %w", refName, err)
	}
	cd, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("digesting config of %s: %w", refName, err)
	}
	if err := writeBlob(dir, cd, io.NopCloser(bytes.NewReader(cfg))); err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest of %s: %w", refName, err)
	}
	md, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digesting manifest of %s: %w", refName, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("reading media type of %s: %w", refName, err)
	}
	if err := writeBlob(dir, md, io.NopCloser(bytes.NewReader(raw))); err != nil {
		return err
	}
	idx, err := readIndex(dir)
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[RefNameAnnotation] != refName {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, v1.Descriptor{
		MediaType:   mt,
		Digest:      md,
		Size:        int64(len(raw)),
		Annotations: map[string]string{RefNameAnnotation: refName},
	})
	if idx.SchemaVersion == 0 {
		idx.SchemaVersion = 2
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, "index.json"), b, 0o644, atomicfile.Step("layoutreg.index"))
}

// writeBlob stores r as blobs/sha256/HEX unless it is already there,
// checking its digest before the rename.
func writeBlob(dir string, d v1.Hash, r io.Reader) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("writing blob %s: only sha256 digests are supported", d)
	}
	dst := blobPath(dir, d.String())
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating blob directory: %w", err)
	}
	return atomicfile.WriteBlob(dst, r, d.Hex, -1, 0o644, atomicfile.Step("layoutreg.blob"))
}
