package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// seal makes the tree read-only: directories 0555, files 0444, or 0555
// when any execute bit was set. Setuid, setgid and sticky bits are dropped.
// Anything but directories, regular files and symlinks is refused.
func seal(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t.IsDir():
			dirs = append(dirs, p)
			return nil
		case t&fs.ModeSymlink != 0:
			return nil
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o444)
			if fi.Mode()&0o111 != 0 {
				mode = 0o555
			}
			if fi.Mode().Perm() == mode && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
				return nil
			}
			return os.Chmod(p, mode)
		default:
			rel, _ := filepath.Rel(root, p)
			return fmt.Errorf("%w: %s is a %s, not a file, directory or symlink", ErrUnsafeArchive, rel, t.Type())
		}
	})
	if err != nil {
		return fmt.Errorf("sealing source tree: %w", err)
	}
	// Children first, so a parent never turns read-only under a walk.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return fmt.Errorf("sealing source tree: %w", err)
		}
	}
	return nil
}

// removeTree removes p even when it holds read-only directories.
func removeTree(p string) error {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

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

// run runs a command and, when it fails, returns an error carrying the
// tail of its standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("running %s: %w", name, err)
		}
		msg := strings.TrimSpace(tail(stderr.String(), 2000))
		if msg == "" {
			msg = strings.TrimSpace(tail(stdout.String(), 2000))
		}
		return stdout.Bytes(), fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// need returns a clear error when a host tool is missing.
func need(tool, pkg string) error {
	if _, err := exec.LookPath(tool); err != nil {
		return fmt.Errorf("%s not found on PATH; install it with apt-get install %s", tool, pkg)
	}
	return nil
}

// environWithout returns the process environment minus the named variables.
func environWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, n := range names {
			if k == n {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
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
