package etcmerge

import (
	"fmt"
	"os"
	"strings"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// RenderFunc renders the template file f whose source is src.
type RenderFunc func(f imagespec.File, src []byte) ([]byte, error)

// FromImage returns what an image wants under /etc: tree maps each of its
// regular files and symlinks there ("etc/x", relative to the image root)
// to the host path that holds it (store.Tree); meta gives each role file's
// source path, and render renders the templates. A template that fails to
// render fails the whole call: nothing half-configured is installed.
func FromImage(tree map[string]string, meta *imagespec.Image, render RenderFunc) (map[string]Item, error) {
	files := map[string]imagespec.File{}
	for _, f := range meta.Files {
		files[f.Path] = f
	}
	want := map[string]Item{}
	for rel, host := range tree {
		abs := "/" + rel
		if rel == "etc" {
			continue // ROOT/etc itself: the node's
		}
		if !strings.HasPrefix(rel, "etc/") || !Managed(abs) {
			return nil, fmt.Errorf("reading the image's /etc: %q is not under /etc", rel)
		}
		fi, err := os.Lstat(host)
		if err != nil {
			return nil, fmt.Errorf("reading the image's %s: %w", abs, err)
		}
		e := Entry{Path: abs}
		var data []byte
		switch {
		case fi.Mode().IsRegular():
			if data, err = os.ReadFile(host); err != nil {
				return nil, fmt.Errorf("reading the image's %s: %w", abs, err)
			}
			e.Mode = uint32(fi.Mode().Perm())
			e.UID, e.GID = owner(fi)
		case fi.IsDir():
			e.Dir, e.Mode = true, uint32(fi.Mode().Perm())
			e.UID, e.GID = owner(fi)
			want[abs] = Item{Entry: e}
			continue
		case fi.Mode().Type() == os.ModeSymlink:
			t, err := os.Readlink(host)
			if err != nil {
				return nil, fmt.Errorf("reading the image's %s: %w", abs, err)
			}
			e.Link, data = true, []byte(t)
		default:
			continue
		}
		if f, ok := files[abs]; ok {
			e.Source, e.Template = f.Source, f.Template
			if f.Template && !e.Link {
				if data, err = render(f, data); err != nil {
					return nil, err
				}
			}
		}
		want[abs] = NewItem(e, data)
	}
	return want, nil
}
