package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
)

// DeriveStats says what deriving a root from another one did.
type DeriveStats struct {
	// Layers is how many layers the two images do not share (the layers
	// whose paths were looked at).
	Layers int
	// Paths is how many paths those layers (and the replaced ones) touch.
	Paths int
	// Written is how many entries were linked, created or removed.
	Written int

	dirty []string // directories changed (relative), nil after a rebuild
}

// derive builds the root of image to by changing the root of image from
// in place, touching only the paths that the layers the two do not share
// name: a path whose entry is the same in both (same content, mode and
// owner) is kept as it is. It is how a switch costs what it changes, not
// what the image holds: two images that differ in one config file cost one
// link. The root of from is consumed (renamed to a temporary name, changed,
// synced, published as to's root): a crash leaves a temporary tree that
// Open removes, and Open reassembles the current image's root if it is
// missing (see recover). ok is false, with nothing done, when from has no
// root, shares no layer with to, or holds the shared layers in another
// order; the caller then assembles in full.
func (s *Store) derive(ctx context.Context, from, to string) (stats DeriveStats, ok bool, err error) {
	if from == "" || from == to {
		return stats, false, nil
	}
	rf, err := s.readRecord(from)
	if err != nil {
		return stats, false, err
	}
	rt, err := s.readRecord(to)
	if err != nil {
		return stats, false, err
	}
	common, ok := commonLayers(rf.Layers, rt.Layers)
	hf, _ := hexOf(from)
	ht, _ := hexOf(to)
	src, final := s.path("roots", hf), s.path("roots", ht)
	if fi, err := os.Lstat(src); !ok || len(common) == 0 || err != nil || !fi.IsDir() {
		return stats, false, nil
	}
	// No journal: Open sweeps a temporary tree and reassembles a missing
	// current root whatever was in flight.
	tmp := tmpName(s.path("roots"), final)
	crash.Point("root.derive")
	if err := os.Rename(src, tmp); err != nil {
		return stats, false, fmt.Errorf("taking the root of %s: %w", from, err)
	}
	// The rename must be durable before the tree changes: after a power
	// loss, a changed tree must not come back under from's name.
	if err := syncDir(s.path("roots"), "root.derive"); err != nil {
		_ = removeAll(tmp)
		return stats, false, err
	}
	stats, err = s.change(ctx, rf.Layers, rt.Layers, common, filepath.Base(tmp))
	if err != nil {
		// The tree is neither from nor to: drop it; the caller assembles
		// in full (and Open would rebuild the current root).
		_ = removeAll(tmp)
		return stats, false, fmt.Errorf("deriving root of %s from %s: %w", to, from, err)
	}
	if err := s.publishDerived(tmp, final, stats.dirty); err != nil {
		return stats, false, fmt.Errorf("publishing root of %s: %w", to, err)
	}
	return stats, true, nil
}

// publishDerived makes the changes to the tree at tmp durable and renames
// it to final. A few changed directories are fsynced one by one (the
// files linked into them are layer files, durable already); a merged
// subtree (nil dirty) takes one syncfs, as a full assembly does.
func (s *Store) publishDerived(tmp, final string, dirty []string) error {
	if dirty == nil {
		return atomicfile.PublishDir(tmp, final, atomicfile.Step("root"))
	}
	for _, d := range dirty {
		if err := atomicfile.SyncDir(filepath.Join(tmp, filepath.FromSlash(d)), atomicfile.Step("root.derive")); err != nil {
			return err
		}
	}
	crash.Point("root.rename")
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("publishing %s: %w", final, err)
	}
	return syncDir(filepath.Dir(final), "root")
}

// layerRef is one layer of an image as derive reads it.
type layerRef struct {
	host string // host path of the unpacked layer
	rel  string // the same, relative to the store root
	info layerInfo
}

func (s *Store) layerRefs(diffIDs []string) ([]layerRef, error) {
	out := make([]layerRef, 0, len(diffIDs))
	for _, id := range diffIDs {
		st, err := s.layerStats(id)
		if err != nil {
			return nil, err
		}
		h, _ := hexOf(id)
		out = append(out, layerRef{host: s.path("layers", h), rel: path.Join("layers", h), info: st})
	}
	return out, nil
}

// commonLayers returns the layers both lists hold. ok is false when they
// do not hold them in the same order (or one holds a layer twice): then
// a path only common layers name could merge differently, and only a full
// assembly is right. When ok, a path that no other layer names (nor hides,
// nor replaces a parent of) merges the same in both.
func commonLayers(old, new []string) (map[string]bool, bool) {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range l {
			m[x] = true
		}
		return m
	}
	o, n := in(old), in(new)
	if len(o) != len(old) || len(n) != len(new) {
		return nil, false
	}
	common := map[string]bool{}
	var oc, nc []string
	for _, x := range old {
		if n[x] {
			common[x] = true
			oc = append(oc, x)
		}
	}
	for _, x := range new {
		if o[x] {
			nc = append(nc, x)
		}
	}
	return common, slices.Equal(oc, nc)
}

// change turns roots/dst, the merged tree of the layers old, into the merged
// tree of the layers new, looking only at the paths the layers that are
// not common to both name.
func (s *Store) change(ctx context.Context, old, new []string, common map[string]bool, dst string) (DeriveStats, error) {
	var stats DeriveStats
	ol, err := s.layerRefs(old)
	if err != nil {
		return stats, err
	}
	nl, err := s.layerRefs(new)
	if err != nil {
		return stats, err
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return stats, err
	}
	defer root.Close()
	m := &merger{root: root, dst: path.Join("roots", dst), dirs: map[string]dirMode{}, asRoot: os.Geteuid() == 0}
	// touched are the paths the unshared layers name; rebuild are those
	// whose whole subtree must be merged again because a layer hides
	// lower contents there (a whiteout or an opaque directory).
	touched, rebuild := map[string]bool{}, map[string]bool{}
	var changed []layerRef
	for i, l := range ol {
		if !common[old[i]] {
			changed = append(changed, l)
		}
	}
	for i, l := range nl {
		if !common[new[i]] {
			changed = append(changed, l)
		}
	}
	for _, l := range changed {
		if err := walkLayer(l.host, func(p string) { touched[p] = true }); err != nil {
			return stats, err
		}
		for _, w := range l.info.Whiteouts {
			touched[w] = true
			rebuild[w] = true
		}
		for _, d := range l.info.Opaque {
			touched[d] = true
			rebuild[d] = true
		}
	}
	stats.Layers = len(changed)
	stats.Paths = len(touched)
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range touched {
			if !yield(p) {
				return
			}
		}
	})
	var rebuilt []string
	dirty := map[string]bool{}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		if slices.ContainsFunc(rebuilt, func(r string) bool { return strings.HasPrefix(p, r+"/") }) {
			continue
		}
		if !m.realDir(path.Dir(p)) {
			continue // its parent is not a directory in the new tree either
		}
		want := resolve(nl, p)
		target := path.Join(m.dst, p)
		have, err := root.Lstat(target)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return stats, err
		}
		switch {
		case want.layer < 0:
			if exists {
				crash.Point("root.derive.remove")
				if err := root.RemoveAll(target); err != nil {
					return stats, err
				}
				stats.Written++
				dirty[path.Dir(p)] = true
			}
		case !want.fi.IsDir():
			if exists && !have.IsDir() && sameEntry(have, want.fi, filepath.Join(s.root, target), filepath.Join(nl[want.layer].host, p)) {
				continue
			}
			if exists {
				crash.Point("root.derive.remove")
				if err := root.RemoveAll(target); err != nil {
					return stats, err
				}
			}
			crash.Point("root.derive.link")
			if err := root.Link(path.Join(nl[want.layer].rel, p), target); err != nil {
				return stats, fmt.Errorf("linking %s: %w", p, err)
			}
			stats.Written++
			dirty[path.Dir(p)] = true
		case exists && have.IsDir() && !rebuild[p]:
			o := owner(want.fi)
			m.dirs[target] = dirMode{mode: want.fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky), uid: o.uid, gid: o.gid}
		default:
			n, err := m.rebuild(nl, p)
			if err != nil {
				return stats, fmt.Errorf("merging %s again: %w", p, err)
			}
			stats.Written += n
			rebuilt = append(rebuilt, p)
		}
	}
	chmodded, err := m.finishChanged()
	if err != nil {
		return stats, err
	}
	if len(rebuilt) == 0 {
		for _, d := range chmodded {
			dirty[strings.TrimPrefix(strings.TrimPrefix(d, m.dst), "/")] = true
		}
		stats.dirty = []string{}
		for d := range dirty {
			if d == "" {
				d = "."
			}
			stats.dirty = append(stats.dirty, d)
		}
		slices.Sort(stats.dirty)
	}
	return stats, nil
}

// walkLayer calls fn with every path (slash-separated, relative) in the
// unpacked layer at dir.
func walkLayer(dir string, fn func(string)) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			fn(filepath.ToSlash(rel))
		}
		return nil
	})
}

// entry is what the merged layers hold at one path: the layer (index) that
// put it there, -1 for nothing, and its file info in that layer.
type entry struct {
	layer int
	fi    fs.FileInfo
}

// resolve says what the merge of layers holds at p, applying each layer's
// whiteouts and opaque directories before its entries, as assemble does.
func resolve(layers []layerRef, p string) entry {
	e := entry{layer: -1}
	for i, l := range layers {
		for _, w := range l.info.Whiteouts {
			if w == p || strings.HasPrefix(p, w+"/") {
				e = entry{layer: -1}
			}
		}
		for _, d := range l.info.Opaque {
			if strings.HasPrefix(p, d+"/") || d == "." {
				e = entry{layer: -1}
			}
		}
		fi, found, replaced := layerEntry(l.host, p)
		switch {
		case replaced:
			e = entry{layer: -1}
		case found:
			e = entry{layer: i, fi: fi}
		}
	}
	return e
}

// layerEntry looks p up in the unpacked layer at dir one component at a
// time, never following a symlink: found when the layer holds p under real
// directories, replaced when it holds a non-directory at one of p's
// parents (which replaces the parent, and so p, in the merge).
func layerEntry(dir, p string) (fi fs.FileInfo, found, replaced bool) {
	cur := dir
	parts := strings.Split(p, "/")
	for i, c := range parts {
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if err != nil {
			return nil, false, false
		}
		if i == len(parts)-1 {
			return st, true, false
		}
		if !st.IsDir() {
			return nil, false, true
		}
	}
	return nil, false, false
}

// sameEntry reports whether the tree's entry at treePath (have) is what
// the layer's entry at layerPath (want) would give: the same file, or the
// same kind, mode, owner and content.
func sameEntry(have, want fs.FileInfo, treePath, layerPath string) bool {
	if os.SameFile(have, want) {
		return true
	}
	if have.Mode() != want.Mode() || owner(have) != owner(want) || have.Size() != want.Size() {
		return false
	}
	switch {
	case have.Mode()&fs.ModeSymlink != 0:
		a, err1 := os.Readlink(treePath)
		b, err2 := os.Readlink(layerPath)
		return err1 == nil && err2 == nil && a == b
	case have.Mode().IsRegular():
		return sameContent(treePath, layerPath)
	}
	return false
}

func sameContent(a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF)
		}
	}
}

// rebuild merges the subtree at p again from every layer, as assemble
// does, after removing what the tree has there. It returns how many
// entries it wrote (an estimate: linked subtrees count once).
func (m *merger) rebuild(layers []layerRef, p string) (int, error) {
	target := path.Join(m.dst, p)
	crash.Point("root.derive.rebuild")
	if err := m.root.RemoveAll(target); err != nil {
		return 0, err
	}
	written := 1
	for _, l := range layers {
		for _, w := range l.info.Whiteouts {
			if w == p || strings.HasPrefix(p, w+"/") {
				if err := m.root.RemoveAll(target); err != nil {
					return written, err
				}
			} else if strings.HasPrefix(w, p+"/") && m.realDir(path.Dir(w)) {
				if err := m.root.RemoveAll(path.Join(m.dst, w)); err != nil {
					return written, err
				}
			}
		}
		for _, d := range l.info.Opaque {
			switch {
			case strings.HasPrefix(p, d+"/") || d == ".":
				if err := m.root.RemoveAll(target); err != nil {
					return written, err
				}
			case (d == p || strings.HasPrefix(d, p+"/")) && m.realDir(d):
				if err := m.clear(d); err != nil {
					return written, err
				}
			}
		}
		fi, found, replaced := layerEntry(l.host, p)
		if replaced {
			if err := m.root.RemoveAll(target); err != nil {
				return written, err
			}
			continue
		}
		if !found {
			continue
		}
		have, err := m.root.Lstat(target)
		exists := err == nil
		if !fi.IsDir() {
			if exists {
				if err := m.root.RemoveAll(target); err != nil {
					return written, err
				}
			}
			if err := m.root.Link(path.Join(l.rel, p), target); err != nil {
				return written, fmt.Errorf("linking %s: %w", p, err)
			}
			written++
			continue
		}
		if exists && !have.IsDir() {
			if err := m.root.RemoveAll(target); err != nil {
				return written, err
			}
			exists = false
		}
		if !exists {
			if err := m.root.Mkdir(target, 0o755); err != nil {
				return written, err
			}
		}
		if err := m.linkDir(l, p, fi); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

// clear removes the contents of directory d of the tree.
func (m *merger) clear(d string) error {
	f, err := m.root.Open(path.Join(m.dst, d))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := m.root.RemoveAll(path.Join(m.dst, d, n)); err != nil {
			return err
		}
	}
	return nil
}

// linkDir adds the layer's directory p (fi) to the tree's directory p.
func (m *merger) linkDir(l layerRef, p string, fi fs.FileInfo) error {
	src, err := os.Open(filepath.Join(l.host, filepath.FromSlash(p)))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := m.root.Open(path.Join(m.dst, p))
	if err != nil {
		return err
	}
	defer dst.Close()
	o := owner(fi)
	m.dirs[path.Join(m.dst, p)] = dirMode{mode: fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky), uid: o.uid, gid: o.gid}
	return m.link(src, dst, p)
}
