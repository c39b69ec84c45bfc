package source

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Copies into the cache normalise modes (0644/0755) and keep symlinks.

// copyFile copies regular file src to dst (which must not exist) with
// mode, returning the bytes copied through w as well when w is not nil.
func copyFile(src, dst string, mode fs.FileMode, w io.Writer) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	var dstW io.Writer = out
	if w != nil {
		dstW = io.MultiWriter(out, w)
	}
	if _, err := io.Copy(dstW, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the directory src to dst (which must not exist): files
// become 0644 or 0755, directories 0755, symlinks are copied as links.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			return os.Mkdir(to, 0o755)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			return copyFile(p, to, mode, nil)
		default:
			return fmt.Errorf("%s is a %s, not a file, directory or symlink", rel, t.Type())
		}
	})
}
