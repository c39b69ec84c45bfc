package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/un-distro/undistro/internal/archive"
	"github.com/un-distro/undistro/runtime/imagespec"
)

var setuidLayer = []ent{d("bin/"), mode(f("bin/su", "su"), 0o4755)}

func TestPullRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *Store) string // returns the ref to pull
		wantErr string
		wantIs  error
	}{
		{
			name: "tampered layer blob",
			setup: func(t *testing.T, s *Store) string {
				dir := t.TempDir()
				writeLayout(t, dir, imageB)
				m, err := build(t, imageB).Manifest()
				if err != nil {
					t.Fatal(err)
				}
				blob := filepath.Join(dir, "blobs", "sha256", m.Layers[2].Digest.Hex)
				os.Chmod(blob, 0o644)
				if err := os.WriteFile(blob, []byte("not the layer"), 0o644); err != nil {
					t.Fatal(err)
				}
				return "oci:" + dir + ":b"
			},
			wantErr: "the source is corrupt or was tampered with",
		},
		{
			name: "diffID mismatch",
			setup: func(t *testing.T, s *Store) string {
				return layoutOf(t, withConfig(t, build(t, imageA), func(cf *v1.ConfigFile) {
					cf.RootFS.DiffIDs[1].Hex = strings.Repeat("0", 64)
				}))
			},
			wantErr: "diffID mismatch: content hashes to sha256:",
		},
		{
			name: "diffID naming a layer already unpacked",
			setup: func(t *testing.T, s *Store) string {
				return layoutOf(t, withConfig(t, build(t, imageA), func(cf *v1.ConfigFile) {
					cf.RootFS.DiffIDs[1] = cf.RootFS.DiffIDs[0]
				}))
			},
			wantErr: "diffID mismatch: content hashes to sha256:",
		},
		{
			name: "hostile layer",
			setup: func(t *testing.T, s *Store) string {
				return layoutOf(t, build(t, testImage{Role: "h", Layers: [][]ent{{f("../evil", "x")}}}))
			},
			wantErr: `refusing layer entry "../evil": ".." component`,
			wantIs:  archive.ErrRefused,
		},
		{
			name: "setuid not declared",
			setup: func(t *testing.T, s *Store) string {
				return layoutOf(t, build(t, testImage{Role: "q", Layers: [][]ent{setuidLayer}}))
			},
			wantErr: `refusing layer entry "bin/su": setuid/setgid bit (mode 4755) on a path the image metadata does not declare privileged`,
			wantIs:  archive.ErrRefused,
		},
		{
			name: "shared privileged layer not declared by this image",
			setup: func(t *testing.T, s *Store) string {
				p := testImage{Role: "p", Layers: [][]ent{setuidLayer}, Meta: imagespec.Image{Privileged: []string{"/bin/su"}}}
				if _, err := s.Pull(ctx, layoutOf(t, build(t, p))); err != nil {
					t.Fatal(err)
				}
				return layoutOf(t, build(t, testImage{Role: "q", Layers: [][]ent{setuidLayer}}))
			},
			wantErr: "holds privileged path /bin/su that this image's metadata does not declare",
		},
		{
			name: "no undistro metadata",
			setup: func(t *testing.T, s *Store) string {
				return layoutOf(t, withConfig(t, build(t, imageA), func(cf *v1.ConfigFile) { cf.Config.Labels = nil }))
			},
			wantErr: "image has no undistro metadata",
			wantIs:  imagespec.ErrNoMetadata,
		},
		{
			name: "role not in layout",
			setup: func(t *testing.T, s *Store) string {
				dir := t.TempDir()
				writeLayout(t, dir, imageA, imageB)
				return "oci:" + dir + ":web"
			},
			wantErr: `has no image "web" (it has ["a" "b"])`,
		},
		{
			name: "several images and no role",
			setup: func(t *testing.T, s *Store) string {
				dir := t.TempDir()
				writeLayout(t, dir, imageA, imageB)
				return "oci:" + dir
			},
			wantErr: `holds 2 images ["a" "b"]: name one as oci:`,
		},
		{
			name:    "bad reference",
			setup:   func(t *testing.T, s *Store) string { return "UPPER/case:tag" },
			wantErr: `parsing reference "UPPER/case:tag"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			ref := tc.setup(t, s)
			before, _ := s.List()
			_, err := s.Pull(ctx, ref)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v\nwant it to contain %s", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			if after, _ := s.List(); len(after) != len(before) {
				t.Errorf("a refused pull added an image: %d images, had %d", len(after), len(before))
			}
			checkClean(t, s.Root())
		})
	}
}

// layoutOf writes img alone to a new OCI layout and returns its oci: ref.
func layoutOf(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir
}

// withConfig returns img with its config file changed by edit.
func withConfig(t *testing.T, img v1.Image, edit func(*v1.ConfigFile)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(cf)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
