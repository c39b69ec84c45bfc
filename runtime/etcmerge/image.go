package etcmerge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"path/filepath"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// RenderFunc renders the template file f whose source is src.
type RenderFunc func(f imagespec.File, src []byte) ([]byte, error)

// FromImage returns what the image whose root filesystem is rootfs wants
// under /etc: its regular files and symlinks there (other kinds are not
// config), each role file's source path, and each template rendered by
// render. It reads through an os.Root, so a link in the image cannot lead
// it out of rootfs.
func FromImage(rootfs string, meta *imagespec.Image, render RenderFunc) (map[string]Item, error) {
	want := map[string]Item{}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("reading the image's /etc: %w", err)
	}
	defer root.Close()
	files := map[string]imagespec.File{}
	for _, f := range meta.Files {
		files[f.Path] = f
	}
	if fi, err := root.Lstat("etc"); errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return want, nil
	}
	err = fs.WalkDir(root.FS(), "etc", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		abs := "/" + p
		e := Entry{Path: abs}
		var data []byte
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			t, err := root.Readlink(p)
			if err != nil {
				return err
			}
			e.Link, data = true, []byte(t)
		case d.Type().IsRegular():
			fi, err := root.Lstat(p)
			if err != nil {
				return err
			}
			if data, err = root.ReadFile(p); err != nil {
				return err
			}
			e.Mode = uint32(fi.Mode().Perm())
			e.UID, e.GID = owner(fi)
		default:
			return nil
		}
		if f, ok := files[abs]; ok {
			e.Source, e.Template = f.Source, f.Template
			if f.Template && !e.Link {
				if data, err = render(f, data); err != nil {
					return err
				}
			}
		}
		want[abs] = NewItem(e, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the image's /etc under %s: %w", filepath.Join(rootfs, "etc"), err)
	}
	return want, nil
}
