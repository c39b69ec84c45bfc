package cache

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/layer"
)

// TestImport moves a package from one cache to another through its layer
// blob and metadata alone, and refuses blobs that do not match them.
func TestImport(t *testing.T) {
	ctx := context.Background()
	src, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := Key(baseParts())
	e, err := src.Put(ctx, key, makeTree(t, "hello v1"), WithLayer(layer.Options{Epoch: 42}))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(src.LayerPath(e))
	if err != nil {
		t.Fatal(err)
	}
	evil, evilInfo := tarBlob(t, "../escape")
	whiteout, whiteoutInfo := tarBlob(t, "etc/.wh.passwd")
	whiteoutInfo.Files = nil // what a forged entry's metadata would say
	tests := []struct {
		name    string
		blob    []byte
		info    func(layer.Info) layer.Info
		wantErr string
	}{
		{name: "match", blob: blob},
		{name: "other blob", blob: bytes.Replace(blob, blob[len(blob)-8:], make([]byte, 8), 1), wantErr: "digest is"},
		{name: "truncated", blob: blob[:len(blob)-1], wantErr: "bytes, its metadata says"},
		{name: "longer", blob: append(append([]byte{}, blob...), 0), wantErr: "more than"},
		{name: "wrong diffID", blob: blob, info: func(i layer.Info) layer.Info { i.DiffID = i.Digest; return i }, wantErr: "tar digest is"},
		{name: "files hidden", blob: blob, info: func(i layer.Info) layer.Info { i.Files = nil; return i }, wantErr: "holds 1 files, its metadata lists 0 other"},
		{name: "files renamed", blob: blob, info: func(i layer.Info) layer.Info { i.Files = []string{"usr/bin/other"}; return i }, wantErr: "holds 1 files, its metadata lists 1 other"},
		{name: "escaping entry", blob: evil, info: func(layer.Info) layer.Info { return evilInfo }, wantErr: "escape"},
		{name: "whiteout", blob: whiteout, info: func(layer.Info) layer.Info { return whiteoutInfo }, wantErr: `layer holds OCI whiteouts of ["etc/passwd"], which no package layer does`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			info := e.Layer
			if tc.info != nil {
				info = tc.info(info)
			}
			got, err := dst.Import(ctx, key, bytes.NewReader(tc.blob), info, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Import error = %v, want one containing %q", err, tc.wantErr)
				}
				if _, ok, gerr := dst.Get(key); ok || gerr != nil {
					t.Errorf("a refused import is cached: %v, %v", ok, gerr)
				}
				if ents, _ := os.ReadDir(dst.tmpDir()); len(ents) != 0 {
					t.Errorf("a refused import left %d temp dirs", len(ents))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(got.Dir, "usr/bin/hello")); string(b) != "hello v1" {
				t.Errorf("imported tree content = %q, %v", b, err)
			}
			if fileDigest(t, dst.LayerPath(got)) != e.Layer.Digest || !reflect.DeepEqual(got.Layer, e.Layer) {
				t.Errorf("imported entry %+v differs from %+v", got.Layer, e.Layer)
			}
			again, ok, err := dst.Get(key)
			if err != nil || !ok || !reflect.DeepEqual(again.Layer, e.Layer) {
				t.Fatalf("Get after Import = %+v, %v, %v", again, ok, err)
			}
			// The unpacked tree lays out to the very same blob.
			var w bytes.Buffer
			re, err := layer.Write(ctx, got.Dir, &w, layer.Options{Epoch: 42})
			if err != nil || re.Digest != e.Layer.Digest {
				t.Errorf("re-layered tree: %s, %v; want %s", re.Digest, err, e.Layer.Digest)
			}
		})
	}
	if _, err := src.Import(ctx, "sha256:nothex", bytes.NewReader(blob), e.Layer, nil); err == nil || !strings.Contains(err.Error(), "not sha256:") {
		t.Errorf("Import with a malformed key: %v", err)
	}
}

// tarBlob is a gzip tar holding one file at name, and its matching Info.
func tarBlob(t *testing.T, name string) ([]byte, layer.Info) {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("x"))
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	d := sha256.Sum256(gz.Bytes())
	u := sha256.Sum256(raw.Bytes())
	return gz.Bytes(), layer.Info{Digest: "sha256:" + hex.EncodeToString(d[:]), DiffID: "sha256:" + hex.EncodeToString(u[:]),
		Size: int64(gz.Len()), UncompressedSize: int64(raw.Len()), Files: []string{name}}
}
