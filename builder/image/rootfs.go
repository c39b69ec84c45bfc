package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// ExportRootfs writes img's flattened root file system (whiteouts applied)
// to dir. It extracts into a temp directory beside dir and then renames it
// into place (atomically exchanging it with an existing dir), so dir is
// always either the old tree or the complete new one. Owners are applied
// when running as root. Nothing is written outside the temp directory,
// whatever the layers hold.
func ExportRootfs(ctx context.Context, img v1.Image, dir string) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	defer os.RemoveAll(tmp) // after an exchange, this is the old tree
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := extract(ctx, tar.NewReader(rc), tmp); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	// mutate.Extract ends the tar stream before it reports its own errors
	// (such as an unsafe path in a layer): read on to get them.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	if err := atomicfile.SyncFS(tmp); err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("exporting rootfs: replacing %s: %w", dir, err)
		}
	} else if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	return atomicfile.SyncDir(parent)
}

// extract unpacks tr under dir through an os.Root, which refuses any path
// (including through symlinks) that leaves dir.
func extract(ctx context.Context, tr *tar.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	asRoot := os.Geteuid() == 0
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTime
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layers: %w", err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		mode := h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := root.Lstat(name); err != nil || !fi.IsDir() {
				_ = root.RemoveAll(name)
				if err := root.Mkdir(name, 0o755); err != nil {
					return fmt.Errorf("%s: %w", h.Name, err)
				}
			}
			dirs = append(dirs, dirTime{name, h.ModTime})
		case tar.TypeReg:
			_ = root.RemoveAll(name)
			f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			_ = root.RemoveAll(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		case tar.TypeLink:
			target, err := entryName(h.Linkname)
			if err != nil {
				return err
			}
			_ = root.RemoveAll(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("%s: hardlink to %s: %w", h.Name, h.Linkname, err)
			}
			continue // shares the target's inode: nothing more to set
		default:
			return fmt.Errorf("%s: unsupported tar entry type %q", h.Name, h.Typeflag)
		}
		if asRoot {
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		if h.Typeflag == tar.TypeSymlink {
			continue
		}
		// After chown, which clears setuid/setgid.
		if err := root.Chmod(name, mode); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := root.Chtimes(name, h.ModTime, h.ModTime); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	// Directory times last: creating their children changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime); err != nil {
			return fmt.Errorf("%s: %w", dirs[i].name, err)
		}
	}
	return nil
}

// entryName cleans a tar entry name to a relative path and refuses one
// that would leave the root.
func entryName(n string) (string, error) {
	clean := path.Clean("/" + n)[1:]
	if clean == "" {
		clean = "."
	}
	if strings.Contains("/"+n+"/", "/../") {
		return "", errors.New(n + ": tar entry name contains ..")
	}
	return clean, nil
}
