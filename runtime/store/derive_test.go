package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// Two images that differ in one config file of their top layer, and one
// that also drops a package layer and changes directory modes.
var (
	confLayer = func(app string) []ent {
		return []ent{d("etc/"), d("etc/app/"), f("etc/app/app.conf", app), f("etc/app/other.conf", "o"), f("etc/motd", "hi")}
	}
	pkgLayer = []ent{d("opt/"), d("opt/app/"), mode(f("opt/app/bin", "bin"), 0o755), ln("opt/app/current", "bin")}
	imageC1  = testImage{Role: "c1", Layers: [][]ent{baseLayer, pkgLayer, confLayer("1")}}
	imageC2  = testImage{Role: "c2", Layers: [][]ent{baseLayer, pkgLayer, confLayer("2")}}
	imageC3  = testImage{Role: "c3", Layers: [][]ent{baseLayer, {mode(d("etc/"), 0o750), d("etc/app/"), f("etc/app/app.conf", "3"), f("usr/lib", "not a dir"), ln("opt", "/usr")}}}
	// c4 changes the middle layer, c5 inserts one, c6 reorders them.
	imageC4 = testImage{Role: "c4", Layers: [][]ent{baseLayer, {d("opt/"), d("opt/app/"), mode(f("opt/app/bin", "bin2"), 0o755)}, confLayer("1")}}
	imageC5 = testImage{Role: "c5", Layers: [][]ent{baseLayer, {d("etc/"), f("etc/motd", "under conf"), d("var/"), f("var/x", "x")}, pkgLayer, confLayer("1")}}
	imageC6 = testImage{Role: "c6", Layers: [][]ent{pkgLayer, baseLayer, confLayer("1")}}
	// w1 whiteouts srv/ and a layer above adds it again; w2 drops the
	// whiteout: srv/ must get back what the base had.
	imageW1 = testImage{Role: "w1", Layers: [][]ent{baseLayer, {d("srv/"), f("srv/a", "a")}, {wh(".wh.srv")}, {d("srv/"), f("srv/b", "b")}}}
	imageW2 = testImage{Role: "w2", Layers: [][]ent{baseLayer, {d("srv/"), f("srv/a", "a")}, {d("srv/"), f("srv/b", "b")}}}
)

// TestDerive derives each image's root from each other's (whiteouts,
// opaque directories, a symlink replaced by a directory and back, a
// directory replaced by a file) and checks the result is the tree a full
// assembly gives; two images differing in one config file cost one link.
func TestDerive(t *testing.T) {
	testsupport.RequireRoot(t, "a root is derived in place as root only (its read-only directories)")
	dir := t.TempDir()
	imgs := map[string]testImage{"a": imageA, "b": imageB, "c1": imageC1, "c2": imageC2, "c3": imageC3, "c4": imageC4, "c5": imageC5, "c6": imageC6, "w1": imageW1, "w2": imageW2}
	digests := writeLayout(t, dir, imageA, imageB, imageC1, imageC2, imageC3, imageC4, imageC5, imageC6, imageW1, imageW2)
	ctx := context.Background()
	pairs := []struct {
		from, to    string
		wantWritten int // -1: any; -2: not derived (a full assembly is needed)
	}{
		{"c1", "c2", 1},
		{"c2", "c1", 1},
		{"a", "b", -1},
		{"b", "a", -1},
		{"c1", "b", -1},
		{"b", "c2", -1},
		{"c1", "c3", -1},
		{"c3", "c2", -1},
		{"c1", "c4", 2}, // bin changes, opt/app/current goes
		{"c4", "c1", 2}, // opt/app/current comes back
		{"c1", "c5", 2}, // var comes (a new directory, merged)
		{"c5", "c1", 1}, // var goes; etc/motd is the same
		{"c1", "c6", -2},
		{"w1", "w2", -1},
		{"w2", "w1", -1},
	}
	for _, tc := range pairs {
		t.Run(tc.from+"-"+tc.to, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			for _, r := range []string{tc.from, tc.to} {
				if _, err := s.Pull(ctx, "oci:"+dir+":"+r); err != nil {
					t.Fatal(err)
				}
			}
			from, to := digests[tc.from], digests[tc.to]
			if _, err := s.Rootfs(ctx, from); err != nil {
				t.Fatal(err)
			}
			st, ok, err := s.derive(ctx, from, to)
			if tc.wantWritten == -2 {
				if err != nil || ok || !exists(filepath.Join(s.Root(), "roots", strings.TrimPrefix(from, "sha256:"))) {
					t.Fatalf("derive = %v, %v; want it declined, the root untouched", ok, err)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("derive = %v, %v", ok, err)
			}
			t.Logf("%+v", st)
			if tc.wantWritten >= 0 && st.Written != tc.wantWritten {
				t.Errorf("written = %d, want %d (%+v)", st.Written, tc.wantWritten, st)
			}
			root := filepath.Join(s.Root(), "roots", strings.TrimPrefix(to, "sha256:"))
			diffTrees(t, listing(t, root), expect(imgs[tc.to].Layers))
			if exists(filepath.Join(s.Root(), "roots", strings.TrimPrefix(from, "sha256:"))) {
				t.Error("the root derived from is still there: want it consumed")
			}
			checkClean(t, s.Root())
		})
	}
}

// TestSwitchDerives: a switch derives the new root from the current one
// and a rollback derives the old one back; both are complete.
func TestSwitchDerives(t *testing.T) {
	testsupport.RequireRoot(t, "a root is derived in place as root only (its read-only directories)")
	dir := t.TempDir()
	digests := writeLayout(t, dir, imageC1, imageC2)
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	for _, r := range []string{"c1", "c2"} {
		if _, err := s.Pull(ctx, "oci:"+dir+":"+r); err != nil {
			t.Fatal(err)
		}
	}
	c1, c2 := digests["c1"], digests["c2"]
	rootOf := func(d string) string { return filepath.Join(s.Root(), "roots", strings.TrimPrefix(d, "sha256:")) }
	if err := s.Switch(ctx, c1); err != nil {
		t.Fatal(err)
	}
	motd := inode(t, filepath.Join(rootOf(c1), "etc/motd"))
	if err := s.Switch(ctx, c2); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, listing(t, rootOf(c2)), expect(imageC2.Layers))
	if got := inode(t, filepath.Join(rootOf(c2), "etc/motd")); got != motd {
		t.Errorf("unchanged etc/motd was linked again (inode %d, was %d)", got, motd)
	}
	if exists(rootOf(c1)) {
		t.Error("the previous root is still there: want it derived from")
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, listing(t, rootOf(c1)), expect(imageC1.Layers))
	if b, err := os.ReadFile(filepath.Join(rootOf(c1), "etc/app/app.conf")); err != nil || string(b) != "1" {
		t.Errorf("after rollback app.conf = %q, %v", b, err)
	}
}
