package layoutreg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	return writeFileAtomic(filepath.Join(dir, "index.json"), bytes.NewReader(b), nil)
}

// writeBlob stores rc as blobs/sha256/HEX unless it is already there,
// checking its digest before the rename.
func writeBlob(dir string, d v1.Hash, rc io.Reader) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("writing blob %s: only sha256 digests are supported", d)
	}
	dst := blobPath(dir, d.String())
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating blob directory: %w", err)
	}
	return writeFileAtomic(dst, rc, &d)
}

// writeFileAtomic writes r to dst through a temp file in the same directory,
// fsyncs and renames it. If want is set the content must hash to it.
func writeFileAtomic(dst string, r io.Reader, want *v1.Hash) (err error) {
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var got v1.Hash
	if want != nil {
		got, _, err = v1.SHA256(io.TeeReader(r, f))
	} else {
		_, err = io.Copy(f, r)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if want != nil && got != *want {
		return fmt.Errorf("writing %s: content hashes to %s, expected %s", dst, got, *want)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dst, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", dst, err)
	}
	if err = os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("renaming into %s: %w", dst, err)
	}
	return syncDir(filepath.Dir(dst))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
