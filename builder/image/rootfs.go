package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/unpack"
)

// ExportRootfs writes img's flattened root file system (whiteouts applied)
// to dir. It extracts into a temp directory beside dir and then renames it
// into place (atomically exchanging it with an existing dir), so dir is
// always either the old tree or the complete new one. The flattened tar
// is unpacked by runtime/unpack, the node's own unpacker, under the shared
// rules (internal/archive) with the privileged paths of the image's
// metadata: what the node would refuse, the export refuses. Owners are
// applied when running as root. Nothing is written outside the temp
// directory, whatever the layers hold.
func ExportRootfs(ctx context.Context, img v1.Image, dir string) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("exporting rootfs: reading image config: %w", err)
	}
	var privileged []string
	if meta, err := imagespec.Decode(cf.Config.Labels); err == nil {
		privileged = meta.Privileged
	} else if !errors.Is(err, imagespec.ErrNoMetadata) {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
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
	if _, err := unpack.Unpack(ctx, rc, tmp, unpack.Options{Privileged: privileged}); err != nil {
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
