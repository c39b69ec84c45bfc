package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// randomLayer makes a layer over a small set of paths: files, directories,
// symlinks, whiteouts and opaque directories, consistent within the layer
// (a path with an entry below it is a directory).
// A hiding layer whiteouts and hides (opaque) more often.
func randomLayer(r *rand.Rand, tag int, hiding bool) []ent {
	universe := []string{"a", "a/b", "a/b/c", "a/x", "d", "d/e", "d/e/g", "f"}
	kind := map[string]string{}
	files, hide := 8, 1
	if hiding {
		files, hide = 3, 4
	}
	for _, p := range universe {
		switch n := r.IntN(20); {
		case n < files:
			kind[p] = "file"
		case n < files+2:
			kind[p] = "dir"
		case n < files+3:
			kind[p] = "link"
		case n < files+3+hide:
			kind[p] = "wh"
		case n < files+3+2*hide:
			kind[p] = "opq"
		}
	}
	// Whatever has an entry below it is a directory; nothing lives under
	// a non-directory or a whiteout.
	for _, p := range slices.Backward(universe) {
		if kind[p] == "" {
			continue
		}
		for q := path.Dir(p); q != "."; q = path.Dir(q) {
			if k := kind[q]; k != "dir" && k != "opq" {
				kind[q] = "dir"
			}
		}
	}
	var out []ent
	for _, p := range universe {
		switch kind[p] {
		case "file":
			out = append(out, f(p, fmt.Sprintf("%s v%d", p, tag)))
		case "dir":
			out = append(out, d(p+"/"))
		case "opq":
			out = append(out, d(p+"/"), opq(p))
		case "link":
			out = append(out, ln(p, "target"))
		case "wh":
			out = append(out, wh(path.Join(path.Dir(p), ".wh."+path.Base(p))))
		}
	}
	// Parents first, as a tar has them.
	slices.SortStableFunc(out, func(x, y ent) int { return strings.Count(x.Name, "/") - strings.Count(y.Name, "/") })
	return out
}

// TestDeriveRandom derives roots between random images that share some
// layers (one replaced, inserted or removed) and checks each against the
// tree the OCI rules give; images whose shared layers are in another order
// are declined.
func TestDeriveRandom(t *testing.T) {
	testsupport.RequireRoot(t, "a root is derived in place as root only (its read-only directories)")
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	const pairs = 32
	var imgs []testImage
	tag := 0
	layer := func() []ent { tag++; return randomLayer(r, tag, false) }
	hiding := func() []ent { tag++; return randomLayer(r, tag, true) }
	for i := range pairs {
		x := [][]ent{layer(), layer(), layer(), layer()}
		y := slices.Clone(x)
		// Hiding layers go on top (nothing above covers what they hide)
		// or in the middle.
		switch i % 4 {
		case 0:
			y[len(y)-1-r.IntN(2)] = hiding()
		case 1:
			y = slices.Insert(y, len(y)-r.IntN(2), hiding())
		case 2:
			k := r.IntN(len(y))
			y = append(slices.Delete(y, k, k+1), hiding())
		case 3:
			y[0], y[1] = y[1], y[0] // reordered
		}
		imgs = append(imgs, testImage{Role: fmt.Sprintf("x%d", i), Layers: x}, testImage{Role: fmt.Sprintf("y%d", i), Layers: y})
	}
	dir := t.TempDir()
	digests := writeLayout(t, dir, imgs...)
	for i := range pairs {
		for _, dirn := range [][2]int{{2 * i, 2*i + 1}, {2*i + 1, 2 * i}} {
			from, to := imgs[dirn[0]], imgs[dirn[1]]
			t.Run(from.Role+"-"+to.Role, func(t *testing.T) {
				s := openStore(t, t.TempDir())
				for _, img := range []testImage{from, to} {
					if _, err := s.Pull(ctx, "oci:"+dir+":"+img.Role); err != nil {
						t.Fatal(err)
					}
				}
				fd, td := digests[from.Role], digests[to.Role]
				if _, err := s.Rootfs(ctx, fd); err != nil {
					t.Fatal(err)
				}
				_, ok, err := s.derive(ctx, fd, td)
				if err != nil {
					t.Fatal(err)
				}
				if i%4 == 3 {
					if ok {
						t.Fatal("derived between images whose shared layers are in another order")
					}
					return
				}
				if !ok {
					t.Fatal("derive declined")
				}
				diffTrees(t, listing(t, filepath.Join(s.Root(), "roots", strings.TrimPrefix(td, "sha256:"))), expect(to.Layers))
			})
		}
	}
}
