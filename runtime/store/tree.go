package store

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// Tree returns the regular files, symlinks and directories the image
// digest holds under dir (a clean relative path such as "etc", itself
// included), read from its layers without
// assembling its root: each path, relative to the image root, maps to the
// host path of the entry in the shared read-only layer that provides it
// (whiteouts, opaque directories and replaced parents applied as
// assemble does). Callers must not write there.
func (s *Store) Tree(ctx context.Context, digest, dir string) (map[string]string, error) {
	unlock, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	d, err := s.resolve(digest)
	if err != nil {
		return nil, err
	}
	r, err := s.readRecord(d)
	if err != nil {
		return nil, err
	}
	layers, err := s.layerRefs(r.Layers)
	if err != nil {
		return nil, err
	}
	candidates := map[string]bool{}
	for _, l := range layers {
		top := filepath.Join(l.host, filepath.FromSlash(dir))
		if fi, err := os.Lstat(top); err != nil || !fi.IsDir() {
			continue
		}
		err := filepath.WalkDir(top, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(l.host, p)
			candidates[filepath.ToSlash(rel)] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range candidates {
			if !yield(p) {
				return
			}
		}
	}) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !realDirs(layers, path.Dir(p), dirs) {
			continue
		}
		e := resolve(layers, p)
		if e.layer < 0 || !(e.fi.Mode().IsRegular() || e.fi.Mode()&fs.ModeSymlink != 0 || e.fi.IsDir()) {
			continue
		}
		out[p] = filepath.Join(layers[e.layer].host, filepath.FromSlash(p))
	}
	return out, nil
}

// realDirs reports whether every component of dir is a directory in the
// merge of layers (a symlink there would take a path elsewhere); known
// memoizes the answer per directory.
func realDirs(layers []layerRef, dir string, known map[string]bool) bool {
	if dir == "." || dir == "/" {
		return true
	}
	if ok, seen := known[dir]; seen {
		return ok
	}
	e := resolve(layers, dir)
	ok := e.layer >= 0 && e.fi.IsDir() && realDirs(layers, path.Dir(dir), known)
	known[dir] = ok
	return ok
}
