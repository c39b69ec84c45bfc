package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTree: an image's /etc (or any directory) read from its layers, as
// its assembled root holds it: whiteouts, opaque directories and replaced
// entries applied, each path mapped to a file in a shared layer.
func TestTree(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	s := openStore(t, t.TempDir())
	img, err := s.Pull(ctx, fx.ref("b"))
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := s.Rootfs(ctx, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"etc", "usr", "srv", "bin", "opt"} {
		tree, err := s.Tree(ctx, img.Digest, dir)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for p, host := range tree {
			got = append(got, p)
			if !strings.HasPrefix(host, filepath.Join(s.root, "layers")) {
				t.Errorf("%s maps to %s, not a layer file", p, host)
			}
			a, _ := os.Lstat(host)
			b, err := os.Lstat(filepath.Join(rootfs, p))
			if err != nil || a.Mode().Type() != b.Mode().Type() {
				t.Errorf("%s: %v in the tree, %v (%v) in the root", p, a.Mode(), b, err)
			}
		}
		_ = filepath.WalkDir(filepath.Join(rootfs, dir), func(p string, _ os.DirEntry, err error) error {
			if err == nil {
				rel, _ := filepath.Rel(rootfs, p)
				want = append(want, rel)
			}
			return nil
		})
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Tree(%s) = %v, the root holds %v", dir, got, want)
		}
	}
}
