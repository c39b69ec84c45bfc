package source

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
)

func (x *extractor) zip(ctx context.Context, zr *zip.Reader) error {
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := x.entry(f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			err = x.dir(name)
		case mode&fs.ModeSymlink != 0:
			err = x.zipSymlink(name, f)
		case mode.IsRegular():
			err = x.zipFile(name, f)
		default:
			err = fmt.Errorf("%w: %s is a %s, not a file, directory or symlink", ErrUnsafeArchive, f.Name, mode.Type())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) zipFile(name string, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rc.Close()
	return x.file(name, f.Mode(), rc)
}

func (x *extractor) zipSymlink(name string, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rc.Close()
	target, err := io.ReadAll(io.LimitReader(rc, 4097))
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	if len(target) > 4096 {
		return fmt.Errorf("%w: symlink %s has a target longer than 4096 bytes", ErrUnsafeArchive, f.Name)
	}
	return x.symlink(name, string(target))
}
