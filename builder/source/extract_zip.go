package source

import (
	"archive/tar"
	"archive/zip"
	"context"
	"fmt"

	"github.com/un-distro/undistro/internal/archive"
)

func (x *extractor) zip(ctx context.Context, zr *zip.Reader) error {
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := archive.ZipHeader(f)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnsafeArchive, err)
		}
		if h.Typeflag != tar.TypeReg {
			if err := x.member(h, nil); err != nil {
				return err
			}
			continue
		}
		if err := x.zipFile(h, f); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) zipFile(h *tar.Header, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rc.Close()
	return x.member(h, rc)
}
