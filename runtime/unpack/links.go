package unpack

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// escapes reports whether the symlink target, read from the directory dir
// (relative to the root), climbs above the root. Absolute targets start at
// the root.
func escapes(dir, target string) bool {
	depth := 0
	if !strings.HasPrefix(target, "/") && dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	for c := range strings.SplitSeq(target, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func (u *unpacker) symlink(hdr *tar.Header, name string) error {
	if hdr.Linkname == "" {
		return refuse(hdr.Name, "empty symlink target")
	}
	if strings.ContainsRune(hdr.Linkname, 0) {
		return refuse(hdr.Name, "NUL byte in symlink target")
	}
	if escapes(path.Dir(name), hdr.Linkname) {
		return refuse(hdr.Name, "symlink target %q escapes the root", hdr.Linkname)
	}
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

func (u *unpacker) hardlink(hdr *tar.Header, name string, privileged bool) error {
	target, why := cleanName(hdr.Linkname)
	if why != "" {
		return refuse(hdr.Name, "hardlink target %q: %s", hdr.Linkname, why)
	}
	k, ok := u.seen[target]
	switch {
	case !ok:
		return refuse(hdr.Name, "hardlink target %q is not an earlier entry of this layer", hdr.Linkname)
	case k == kDir:
		return refuse(hdr.Name, "hardlink target %q is a directory", hdr.Linkname)
	case k == kSpecial && !privileged:
		return refuse(hdr.Name, "hardlink to device or fifo %q on a path the image metadata does not declare privileged", hdr.Linkname)
	}
	needs := k == kSpecial
	if k == kFile {
		fi, err := u.root.Lstat(target)
		if err != nil {
			return fmt.Errorf("checking %s: %w", target, err)
		}
		needs = fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0
		if needs && !privileged {
			return refuse(hdr.Name, "hardlink to setuid/setgid file %q on a path the image metadata does not declare privileged", hdr.Linkname)
		}
	}
	if needs {
		u.st.Privileged = append(u.st.Privileged, "/"+name)
	}
	if err := u.root.Link(target, name); err != nil {
		return fmt.Errorf("linking %s to %s: %w", name, target, err)
	}
	u.seen[name] = k
	u.st.Hardlinks++
	return nil
}
