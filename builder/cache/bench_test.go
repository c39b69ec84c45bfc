package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkGet measures a cache hit, which a no-op rebuild does once per
// package: one small file read and JSON decode, whatever the tree's size.
//
//	go test -run '^$' -bench Get ./builder/cache
func BenchmarkGet(b *testing.B) {
	c, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	tree := filepath.Join(b.TempDir(), "tree")
	// A package with a few hundred files, so Files is realistic.
	for i := range 300 {
		p := filepath.Join(tree, fmt.Sprintf("usr/share/pkg/d%02d/f%03d", i%30, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	key := Key(baseParts())
	if _, err := c.Put(context.Background(), key, tree); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := c.Get(key); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
