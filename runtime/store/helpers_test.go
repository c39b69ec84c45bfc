package store

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// ent is one entry of a test layer; typ 0 is a regular file.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
}

func f(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
func d(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func ln(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}
func hl(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeLink, mode: 0o644}
}
func mode(e ent, m int64) ent { e.mode = m; return e }
func wh(name string) ent      { return f(name, "") }
func opq(dir string) ent      { return f(path.Join(dir, ".wh..wh..opq"), "") }

func tarOf(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type testImage struct {
	role   string
	layers [][]ent
	meta   imagespec.Image
}

func build(t testing.TB, ti testImage) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, l := range ti.layers {
		b := tarOf(t, l)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: map[string]string{imagespec.LayerAnnotation: "pkg:l" + string(rune('0'+i)) + "@1"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	meta := ti.meta
	meta.Role = ti.role
	label, err := imagespec.Encode(&meta)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Labels = map[string]string{imagespec.Label: label}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayout writes images to an OCI layout, each annotated with its role.
func writeLayout(t testing.TB, dir string, imgs ...testImage) map[string]string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, ti := range imgs {
		img := build(t, ti)
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{imagespec.RefNameAnnotation: ti.role})); err != nil {
			t.Fatal(err)
		}
		dg, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[ti.role] = dg.String()
	}
	return digests
}

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
			name := path.Clean(e.name)
			base := path.Base(name)
			switch {
			case base == ".wh..wh..opq":
				drop(path.Dir(name), false)
			case strings.HasPrefix(base, ".wh."):
				drop(path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh.")), true)
			}
		}
		for _, e := range l {
			name := path.Clean(e.name)
			if strings.HasPrefix(path.Base(name), ".wh.") {
				continue
			}
			if old, ok := tree[name]; ok && old.typ == tar.TypeDir && e.typ != tar.TypeDir {
				drop(name, false)
			}
			n := node{typ: e.typ, perm: fs.FileMode(e.mode) & 0o555}
			switch e.typ {
			case tar.TypeReg:
				sum := sha256.Sum256([]byte(e.body))
				n.sum = hex.EncodeToString(sum[:])
			case tar.TypeSymlink:
				n.perm, n.link = 0, e.link
			case tar.TypeLink:
				n = tree[path.Clean(e.link)]
			case tar.TypeDir:
				n.perm = fs.FileMode(e.mode) & 0o777
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
