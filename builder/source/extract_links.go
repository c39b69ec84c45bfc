package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkLinks resolves every symlink left in the tree, following chains
// through other symlinks as the kernel would, and refuses any that passes
// above the top directory at any step.
func (x *extractor) checkLinks() error {
	for _, name := range x.links {
		fi, err := x.root.Lstat(name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // replaced by a later member
		}
		if err := resolveInside(x.root, name); err != nil {
			return fmt.Errorf("%w: symlink %s: %v", ErrUnsafeArchive, name, err)
		}
	}
	return nil
}

// resolveInside follows name inside root component by component and fails
// when the walk climbs above root or meets an absolute link. Components
// that do not exist are taken lexically (dangling links inside are fine).
func resolveInside(root *os.Root, name string) error {
	todo := strings.Split(name, "/")
	var cur []string
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return errors.New("resolves above the top directory")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := append(cur[:len(cur):len(cur)], c)
		p := strings.Join(next, "/")
		fi, err := root.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return errors.New("too many levels of symlinks")
		}
		t, err := root.Readlink(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(t, "/") {
			return fmt.Errorf("passes through %s, an absolute link", p)
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return nil
}

// stripTop replaces dst by its only entry when that is a directory.
func stripTop(dst string) error {
	ents, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	if len(ents) != 1 || !ents[0].IsDir() {
		return nil
	}
	hold, err := os.MkdirTemp(filepath.Dir(dst), ".strip-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(hold)
	moved := filepath.Join(hold, "top")
	if err := os.Rename(filepath.Join(dst, ents[0].Name()), moved); err != nil {
		return fmt.Errorf("stripping top directory: %w", err)
	}
	if err := os.Remove(dst); err != nil {
		return fmt.Errorf("stripping top directory: %w", err)
	}
	if err := os.Rename(moved, dst); err != nil {
		return fmt.Errorf("stripping top directory: %w", err)
	}
	return nil
}
