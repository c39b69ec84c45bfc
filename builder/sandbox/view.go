package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// The unprivileged user and group build steps run as inside the sandbox
// (bwrap --unshare-user --uid/--gid). On the host, what they write belongs
// to whoever ran the build; layers never carry host ownership anyway.
const (
	BuildUID = 1000
	BuildGID = 1000
)

// etcFiles are the sandbox's whole /etc besides hostEtc: written fresh for
// each build, so no host account, password hash or configuration leaks in.
var etcFiles = map[string]string{
	"passwd": fmt.Sprintf("root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nbuilder:x:%d:%d:undistro build:%s:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", BuildUID, BuildGID, HomeDir),
	"group":  fmt.Sprintf("root:x:0:\nbuilder:x:%d:\nnogroup:x:65534:\n", BuildGID),
	"hosts":  "127.0.0.1\tlocalhost undistro-build\n::1\tlocalhost\n",
}

// hostEtc are the host's /etc entries a build may see: the dynamic
// linker's cache and Debian's alternatives symlinks (/usr/bin/cc, awk, ...
// point through /etc/alternatives). They hold no secrets.
var hostEtc = []string{"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"}

// usrLinks are the top-level names that a merged-/usr system makes
// symlinks into /usr (bin -> usr/bin); on other systems they are
// directories, bound read-only.
var usrLinks = []string{"bin", "lib", "lib32", "lib64", "libx32", "sbin"}

// toolchainDirs are host directories that belong to one toolchain: hidden
// from builds that do not declare the tool (host:NAME), so a recipe cannot
// use a compiler whose version is not in its cache key. /usr/local as a
// whole is hidden too (an administrator's own installs); a declared tool
// living there is bound in on its own.
var toolchainDirs = map[string][]string{
	"gcc": {"/usr/lib/gcc", "/usr/libexec/gcc"},
	"g++": {"/usr/lib/gcc", "/usr/libexec/gcc"},
	"cc":  {"/usr/lib/gcc", "/usr/libexec/gcc"},
	"c++": {"/usr/lib/gcc", "/usr/libexec/gcc"},
	"cpp": {"/usr/lib/gcc", "/usr/libexec/gcc"},
}

// hiddenByDefault lists what toolchainDirs hides, plus /usr/local.
func hiddenByDefault() []string {
	h := []string{"/usr/local"}
	for _, ds := range toolchainDirs {
		for _, d := range ds {
			if !slices.Contains(h, d) {
				h = append(h, d)
			}
		}
	}
	slices.Sort(h)
	return h
}

// Tools resolves host tools (the NAME of a host:NAME build dependency) to
// the host paths a build needs to run them: the executable and the
// symlinks leading to it, the shared libraries ldd names, the tool's own
// directories (toolchainDirs; GOROOT for go). Results are memoized. The
// zero value is ready to use.
type Tools struct {
	mu   sync.Mutex
	memo map[string][]string
}

// Paths returns the host paths tool needs, sorted.
func (t *Tools) Paths(ctx context.Context, tool string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.memo[tool]; ok {
		return p, nil
	}
	p, err := toolPaths(ctx, tool)
	if err != nil {
		return nil, err
	}
	if t.memo == nil {
		t.memo = map[string][]string{}
	}
	t.memo[tool] = p
	return p, nil
}

func toolPaths(ctx context.Context, tool string) ([]string, error) {
	if tool == "" || strings.ContainsAny(tool, "/\x00") {
		return nil, fmt.Errorf("host tool %q: want a command name such as gcc", tool)
	}
	bin, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("host tool %q is not installed: install it (e.g. apt-get install %s) or drop host:%s from the recipe", tool, tool, tool)
	}
	bin = resolveDir(bin)
	set := map[string]bool{}
	// The executable and every link of the chain to it.
	for p, hops := bin, 0; hops < 40; hops++ {
		set[p] = true
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("host tool %s: %w", tool, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("host tool %s: %w", tool, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return nil, fmt.Errorf("host tool %s: %w", tool, err)
	}
	set[real] = true
	for _, lib := range sharedLibs(ctx, real) {
		set[resolveDir(lib)] = true
		if r, err := filepath.EvalSymlinks(lib); err == nil {
			set[r] = true
		}
	}
	for _, d := range toolchainDirs[tool] {
		if _, err := os.Stat(d); err == nil {
			set[d] = true
		}
	}
	if tool == "go" {
		out, err := exec.CommandContext(ctx, real, "env", "GOROOT").Output()
		if err != nil {
			return nil, fmt.Errorf("asking %s for GOROOT: %w", real, err)
		}
		if root := strings.TrimSpace(string(out)); filepath.IsAbs(root) {
			set[filepath.Clean(root)] = true
		}
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	// A directory covers what lies under it.
	out := paths[:0]
	for _, p := range paths {
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]+"/") {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveDir returns p with the symlinks of its directory resolved
// (/lib64/ld.so -> /usr/lib64/ld.so on a merged-/usr system), keeping its
// last element, which may itself be a link.
func resolveDir(p string) string {
	p, _ = filepath.Abs(p)
	if d, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(d, filepath.Base(p))
	}
	return p
}

// sharedLibs returns the absolute paths ldd lists for bin (none for a
// static binary or when ldd is missing: the executable alone is bound).
func sharedLibs(ctx context.Context, bin string) []string {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)".
		f := strings.Fields(sc.Text())
		for i, w := range f {
			if filepath.IsAbs(w) && (i == 0 || f[i-1] == "=>") {
				libs = append(libs, filepath.Clean(w))
			}
		}
	}
	return libs
}

// visible reports whether host path p is already in the sandbox's view
// before any tool is bound: under /usr, outside the hidden directories.
func visible(p string, hidden []string) bool {
	if p != "/usr" && !strings.HasPrefix(p, "/usr/") {
		return false
	}
	for _, h := range hidden {
		if p == h || strings.HasPrefix(p, h+"/") {
			return false
		}
	}
	return true
}

// viewArgs returns the bwrap arguments that build the sandbox's file
// system view, before the build directory and the Spec's binds: /usr
// read-only without the hidden directories, the merged-/usr links, a
// synthetic /etc (from etcDir on the host), and the tool paths.
func viewArgs(etcDir string, toolPaths []string) ([]string, error) {
	var args []string
	for _, name := range usrLinks {
		p := "/" + name
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return nil, fmt.Errorf("reading host symlink %s: %w", p, err)
			}
			args = append(args, "--symlink", target, p)
			continue
		}
		args = append(args, "--ro-bind", p, p)
	}
	args = append(args, "--ro-bind", "/usr", "/usr")
	// Hidden directories become empty read-only tmpfs, unless a declared
	// tool needs exactly that directory.
	declared := map[string]bool{}
	for _, p := range toolPaths {
		declared[p] = true
	}
	var hidden, emptied []string
	for _, h := range hiddenByDefault() {
		if declared[h] {
			continue
		}
		hidden = append(hidden, h)
		if _, err := os.Stat(h); err == nil {
			args = append(args, "--tmpfs", h)
			emptied = append(emptied, h)
		}
	}
	for _, p := range toolPaths {
		if visible(p, hidden) {
			continue // under /usr and not hidden: already there
		}
		args = append(args, "--ro-bind", p, p)
	}
	args = append(args, "--dir", "/etc")
	names := make([]string, 0, len(etcFiles))
	for n := range etcFiles {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		args = append(args, "--ro-bind", filepath.Join(etcDir, n), "/etc/"+n)
	}
	for _, p := range hostEtc {
		if _, err := os.Lstat(p); err == nil {
			args = append(args, "--ro-bind", p, p)
		}
	}
	for _, h := range emptied {
		args = append(args, "--remount-ro", h)
	}
	return args, nil
}

// writeEtc writes the synthetic /etc files into dir.
func writeEtc(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for n, body := range etcFiles {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			return fmt.Errorf("writing sandbox /etc/%s: %w", n, err)
		}
	}
	return nil
}
