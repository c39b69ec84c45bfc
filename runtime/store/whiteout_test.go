package store

import (
	"context"
	"slices"
	"sort"
	"testing"
)

// TestWhiteouts merges two layers and lists exactly what the root holds, so
// it does not depend on the expect model.
func TestWhiteouts(t *testing.T) {
	lower := []ent{
		d("etc/"), f("etc/keep", "k"), f("etc/gone", "g"),
		d("etc/conf.d/"), f("etc/conf.d/a", "a"), f("etc/conf.d/b", "b"),
		d("var/"), d("var/cache/"), f("var/cache/old", "o"),
		d("usr/"), d("usr/lib/"), f("usr/lib/x", "x"), ln("lib", "usr/lib"),
		d("data/"), f("data/f", "f"),
	}
	tests := []struct {
		name  string
		upper []ent
		want  []string
	}{
		{name: "file whiteout", upper: []ent{d("etc/"), wh("etc/.wh.gone")},
			want: []string{"data", "data/f", "etc", "etc/conf.d", "etc/conf.d/a", "etc/conf.d/b", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/old"}},
		{name: "directory whiteout removes its contents", upper: []ent{d("etc/"), wh("etc/.wh.conf.d")},
			want: []string{"data", "data/f", "etc", "etc/gone", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/old"}},
		{name: "opaque directory hides lower contents only", upper: []ent{d("var/"), d("var/cache/"), opq("var/cache"), f("var/cache/new", "n")},
			want: []string{"data", "data/f", "etc", "etc/conf.d", "etc/conf.d/a", "etc/conf.d/b", "etc/gone", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/new"}},
		{name: "whiteout and re-add in one layer", upper: []ent{d("etc/"), wh("etc/.wh.conf.d"), d("etc/conf.d/"), f("etc/conf.d/c", "c")},
			want: []string{"data", "data/f", "etc", "etc/conf.d", "etc/conf.d/c", "etc/gone", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/old"}},
		{name: "whiteout through a lower symlink does nothing", upper: []ent{d("lib/"), wh("lib/.wh.x")},
			want: []string{"data", "data/f", "etc", "etc/conf.d", "etc/conf.d/a", "etc/conf.d/b", "etc/gone", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/old"}},
		{name: "file replaces directory", upper: []ent{f("data", "now a file")},
			want: []string{"data", "etc", "etc/conf.d", "etc/conf.d/a", "etc/conf.d/b", "etc/gone", "etc/keep", "lib", "usr", "usr/lib", "usr/lib/x", "var", "var/cache", "var/cache/old"}},
		{name: "whiteout of the whole root", upper: []ent{opq("."), f("only", "o")},
			want: []string{"only"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti := testImage{Role: "w", Layers: [][]ent{lower, tc.upper}}
			s := openStore(t, t.TempDir())
			img, err := s.Pull(context.Background(), layoutOf(t, build(t, ti)))
			if err != nil {
				t.Fatal(err)
			}
			dir, err := s.Rootfs(context.Background(), img.Digest)
			if err != nil {
				t.Fatal(err)
			}
			tree := listing(t, dir)
			var got []string
			for p := range tree {
				got = append(got, p)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("root holds %q\nwant       %q", got, tc.want)
			}
			diffTrees(t, tree, expect(ti.Layers))
		})
	}
}
