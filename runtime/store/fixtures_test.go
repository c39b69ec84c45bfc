package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

var baseLayer = []ent{
	d("etc/"), f("etc/os-release", "undistro"),
	d("bin/"), mode(f("bin/busybox", "bb1"), 0o755), ln("bin/sh", "busybox"),
	d("usr/"), d("usr/share/"), d("usr/share/doc/"), f("usr/share/doc/a", "a"), f("usr/share/doc/b", "b"),
	d("usr/lib/"), f("usr/lib/libc.so", "libc"), ln("lib", "/usr/lib"),
}

var imageA = testImage{Role: "a", Layers: [][]ent{
	baseLayer,
	{d("opt/"), d("opt/app/"), f("opt/app/v", "1"), hl("opt/app/v-link", "opt/app/v")},
}}

// imageB shares the base layer with A, changes A's package and adds
// layers that whiteout, hide (opaque), replace a symlink by a directory and
// add a read-only directory.
var imageB = testImage{Role: "b", Layers: [][]ent{
	baseLayer,
	{d("opt/"), d("opt/app/"), f("opt/app/v", "2"), hl("opt/app/v-link", "opt/app/v")},
	{d("srv/"), f("srv/x", "x"), f("srv/y", "y")},
	{d("var/"), d("var/lib/"), f("var/lib/state", "s")},
	{d("etc/"), f("etc/os-release", "undistro B"), d("srv/"), wh("srv/.wh.y"), wh(".wh.bin")},
	{d("usr/"), d("usr/share/"), d("usr/share/doc/"), opq("usr/share/doc"), f("usr/share/doc/c", "c"),
		mode(d("ro/"), 0o555), f("ro/f", "ro"), d("lib/"), f("lib/z", "z")},
}}

// fixture is an OCI layout holding A and B.
type fixture struct {
	layout  string
	digests map[string]string
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	dir := t.TempDir()
	return fixture{layout: dir, digests: writeLayout(t, dir, imageA, imageB)}
}

func (fx fixture) ref(role string) string { return "oci:" + fx.layout + ":" + role }

func openStore(t testing.TB, root string) *Store {
	t.Helper()
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); writable(t, root) })
	return s
}

// writable lets the test's temp dir cleanup remove read-only directories
// when the tests do not run as root.
func writable(t testing.TB, root string) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
}

// storeOnA returns a store whose current image is A, with no previous.
func storeOnA(t testing.TB, fx fixture) string {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { writable(t, root) })
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img, err := s.Pull(context.Background(), fx.ref("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Switch(context.Background(), img.Digest); err != nil {
		t.Fatal(err)
	}
	return root
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }
