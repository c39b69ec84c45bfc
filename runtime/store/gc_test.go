package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGC(t *testing.T) {
	ctx := context.Background()
	imageC := testImage{Role: "c", Layers: [][]ent{baseLayer, {d("c/"), f("c/only", "c")}}}
	imageD := testImage{Role: "d", Layers: [][]ent{{d("d/"), f("d/only", "d")}}}
	dir := t.TempDir()
	dg := writeLayout(t, dir, imageA, imageB, imageC, imageD)
	s := openStore(t, t.TempDir())
	imgs := map[string]*Image{}
	for _, r := range []string{"a", "b", "c", "d"} {
		img, err := s.Pull(ctx, "oci:"+dir+":"+r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rootfs(ctx, img.Digest); err != nil {
			t.Fatal(err)
		}
		imgs[r] = img
	}
	for _, r := range []string{"a", "b"} {
		if err := s.Switch(ctx, dg[r]); err != nil {
			t.Fatal(err)
		}
	}
	// A stray blob and layer nothing references.
	stray := strings.Repeat("e", 64)
	os.WriteFile(filepath.Join(s.Root(), "blobs", "sha256", stray), []byte("x"), 0o444)
	os.Mkdir(filepath.Join(s.Root(), "layers", stray), 0o755)

	tests := []struct {
		name        string
		keep        int
		wantRemoved []string
		wantLeft    []string
		wantErr     string
	}{
		{name: "negative keep", keep: -1, wantErr: "gc: keep -1: want 0 or more images besides current and previous"},
		{name: "keep one more", keep: 1, wantRemoved: []string{dg["c"]}, wantLeft: []string{"d", "b", "a"}},
		{name: "keep current and previous", keep: 0, wantRemoved: []string{dg["d"]}, wantLeft: []string{"b", "a"}},
		{name: "nothing left to remove", keep: 0, wantLeft: []string{"b", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			removed, err := s.GC(ctx, tc.keep)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(removed, tc.wantRemoved) {
				t.Errorf("removed %q, want %q", removed, tc.wantRemoved)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, img := range list {
				left = append(left, img.Meta.Role)
			}
			if !slices.Equal(left, tc.wantLeft) {
				t.Errorf("left %q, want %q", left, tc.wantLeft)
			}
			// Exactly the blobs, layers and roots of what is left remain.
			want := map[string]bool{}
			for _, img := range list {
				for _, d := range append(append([]string{img.Digest, img.ConfigDigest}, img.Blobs...), img.Layers...) {
					want[strings.TrimPrefix(d, "sha256:")] = true
				}
			}
			for _, sub := range []string{"blobs/sha256", "layers", "roots"} {
				ents, _ := os.ReadDir(filepath.Join(s.Root(), sub))
				for _, e := range ents {
					if h := strings.TrimSuffix(e.Name(), ".json"); !want[h] {
						t.Errorf("%s/%s survived GC", sub, e.Name())
					}
				}
			}
			for _, r := range tc.wantLeft {
				p := filepath.Join(s.Root(), "roots", strings.TrimPrefix(dg[r], "sha256:"))
				diffTrees(t, listing(t, p), expect(map[string]testImage{"a": imageA, "b": imageB, "d": imageD}[r].Layers))
			}
			checkClean(t, s.Root())
		})
	}
}
