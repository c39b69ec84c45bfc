package store

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// ent is one entry of a test layer, testImage a test image.
type (
	ent       = imagetest.Entry
	testImage = imagetest.Image
)

var (
	build       = imagetest.Build
	writeLayout = imagetest.WriteLayout
)

var (
	f  = imagetest.File
	d  = imagetest.Dir
	ln = imagetest.Symlink
	hl = imagetest.Hardlink
)

func mode(e ent, m int64) ent { e.Mode = m; return e }
func wh(name string) ent      { return f(name, "") }
func opq(dir string) ent      { return f(path.Join(dir, ".wh..wh..opq"), "") }

// node is what a tree holds at one path.
type node struct {
	typ  byte
	perm fs.FileMode // without write bits: layer files are read-only in the store
	sum  string      // regular files
	link string      // symlinks
}

// expect applies layers the way the OCI spec says and returns the tree.
func expect(layers [][]ent) map[string]node {
	tree := map[string]node{}
	drop := func(p string, self bool) {
		for k := range tree {
			if (self && k == p) || strings.HasPrefix(k, p+"/") || p == "." {
				delete(tree, k)
			}
		}
	}
	for _, l := range layers {
		for _, e := range l {
			name := path.Clean(e.Name)
			base := path.Base(name)
			switch {
			case base == ".wh..wh..opq":
				drop(path.Dir(name), false)
			case strings.HasPrefix(base, ".wh."):
				drop(path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh.")), true)
			}
		}
		for _, e := range l {
			name := path.Clean(e.Name)
			if strings.HasPrefix(path.Base(name), ".wh.") {
				continue
			}
			if old, ok := tree[name]; ok && old.typ == tar.TypeDir && e.Type != tar.TypeDir {
				drop(name, false)
			}
			n := node{typ: e.Type, perm: fs.FileMode(e.Mode) & 0o555}
			switch e.Type {
			case tar.TypeReg:
				sum := sha256.Sum256([]byte(e.Body))
				n.sum = hex.EncodeToString(sum[:])
			case tar.TypeSymlink:
				n.perm, n.link = 0, e.Link
			case tar.TypeLink:
				n = tree[path.Clean(e.Link)]
			case tar.TypeDir:
				n.perm = fs.FileMode(e.Mode) & 0o777
			}
			tree[name] = n
		}
	}
	return tree
}

// listing reads a tree from disk in the same form as expect.
func listing(t testing.TB, dir string) map[string]node {
	t.Helper()
	tree := map[string]node{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		var n node
		switch {
		case fi.IsDir():
			n = node{typ: tar.TypeDir, perm: fi.Mode().Perm()}
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			n = node{typ: tar.TypeSymlink, link: l}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			n = node{typ: tar.TypeReg, perm: fi.Mode().Perm(), sum: hex.EncodeToString(sum[:])}
		default:
			n = node{typ: '?', perm: fi.Mode().Perm()}
		}
		tree[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func diffTrees(t testing.TB, got, want map[string]node) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s: missing, want %+v", k, w)
		case !wok:
			t.Errorf("%s: unexpected %+v", k, g)
		case g != w:
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
}

func inode(t testing.TB, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
