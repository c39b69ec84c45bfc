package unpack

import (
	"archive/tar"
	"fmt"

	"github.com/un-distro/undistro/internal/archive"
)

func (u *unpacker) symlink(hdr *tar.Header, name string) error {
	// The checker has refused empty, NUL-holding and escaping targets.
	if err := u.root.Symlink(hdr.Linkname, name); err != nil {
		return fmt.Errorf("creating symlink %s: %w", name, err)
	}
	u.seen[name] = kSymlink
	if u.asRoot {
		if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("setting owner of %s: %w", name, err)
		}
	}
	u.st.Symlinks++
	return nil
}

// hardlink links name to target, an earlier entry of this layer that the
// checker has judged (kind, privileges).
func (u *unpacker) hardlink(hdr *tar.Header, name, target string) error {
	k, ok := u.seen[target]
	if !ok || k == kDir || k == kSymlink {
		// Only reachable when the target was on disk before Unpack.
		return refuse(hdr.Name, archive.RuleHardlink, "hardlink target %q is not an earlier entry of this layer", hdr.Linkname)
	}
	if err := u.root.Link(target, name); err != nil {
		return fmt.Errorf("linking %s to %s: %w", name, target, err)
	}
	u.seen[name] = k
	u.st.Hardlinks++
	return nil
}
