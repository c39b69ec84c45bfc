package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

var _ Sandbox = (*Bwrap)(nil)

// Bwrap is a Sandbox that uses bubblewrap (Debian package bubblewrap).
type Bwrap struct {
	// Path is the bwrap executable. Empty: "bwrap" looked up in $PATH.
	Path string
}

// ErrNoBwrap is returned when the bwrap executable cannot be found.
var ErrNoBwrap = errors.New("bwrap not found: install bubblewrap (apt-get install bubblewrap)")

// ErrSetup is returned (wrapped) when bubblewrap cannot create the sandbox,
// for example because user namespaces are not allowed.
var ErrSetup = errors.New("setting up the build sandbox")

// Run prepares s.Root, copies s.Src into it and runs s.Script inside
// bubblewrap, with stdout and stderr going to s.LogPath().
func (b *Bwrap) Run(ctx context.Context, s Spec) error {
	s, err := s.validate()
	if err != nil {
		return err
	}
	bin := b.Path
	if bin == "" {
		bin = "bwrap"
	}
	bin, err = exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoBwrap, err)
	}
	if err := prepare(ctx, s); err != nil {
		return err
	}
	filter := seccompFilter(runtime.GOARCH)
	args, err := bwrapArgs(s, filter != nil)
	if err != nil {
		return err
	}
	logPath := s.LogPath()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating build log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{} // bwrap itself gets nothing from the host either
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if filter != nil {
		// bwrap reads the compiled filter from fd 3 (ExtraFiles[0]).
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("passing the seccomp filter: %w", err)
		}
		defer r.Close()
		_, err = w.Write(filter) // well under the pipe buffer
		w.Close()
		if err != nil {
			return fmt.Errorf("passing the seccomp filter: %w", err)
		}
		cmd.ExtraFiles = []*os.File{r}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	slog.Default().DebugContext(ctx, "running build", "root", s.Root, "log", logPath, "bwrap", bin)
	runErr := cmd.Run()
	if err := logFile.Sync(); err != nil && runErr == nil {
		return fmt.Errorf("writing build log: %w", err)
	}
	if runErr == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("running build in %s: %w", s.Root, ctxErr)
	}
	var exit *exec.ExitError
	if !errors.As(runErr, &exit) {
		return fmt.Errorf("starting bwrap: %w", runErr)
	}
	lines := tail(logPath, TailLines)
	if len(lines) > 0 && strings.HasPrefix(lines[0], "bwrap: ") && exit.ExitCode() == 1 && len(lines) <= 2 {
		// bubblewrap itself failed before the script started.
		return fmt.Errorf("%w: %s (see %s). Run as root, or allow unprivileged user namespaces (on Ubuntu 24.04: sysctl kernel.apparmor_restrict_unprivileged_userns=0)", ErrSetup, lines[0], logPath)
	}
	return &BuildError{LogPath: logPath, Tail: lines, Err: runErr}
}

// prepare empties the build directories and copies the source in.
func prepare(ctx context.Context, s Spec) error {
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return fmt.Errorf("creating build directory: %w", err)
	}
	for _, d := range []string{"src", "dest", "home", "tmp"} {
		p := filepath.Join(s.Root, d)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("emptying %s: %w", p, err)
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
	}
	if s.Src == "" {
		return nil
	}
	fi, err := os.Stat(s.Src)
	if err != nil {
		return fmt.Errorf("copying source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("copying source: %s is not a directory", s.Src)
	}
	// cp -a keeps modes, symlinks, hardlinks and timestamps; ownership
	// is dropped so the build (with no capabilities) owns its tree.
	cmd := exec.CommandContext(ctx, "cp", "-a", "--no-preserve=ownership", "--", s.Src+"/.", filepath.Join(s.Root, "src"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copying source %s: %v: %s", s.Src, err, strings.TrimSpace(string(out)))
	}
	// The source cache keeps trees read-only; builds (./configure, make)
	// write into theirs, and without capabilities even root cannot
	// override modes.
	cmd = exec.CommandContext(ctx, "chmod", "-R", "u+w", "--", filepath.Join(s.Root, "src"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("making the source copy writable: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// bwrapArgs returns bubblewrap's arguments for s. The host's top-level
// entries are bound read-only one by one (rather than --ro-bind / /) so
// that /build and /deps can be created in bwrap's own root, which is then
// remounted read-only.
func bwrapArgs(s Spec, seccomp bool) ([]string, error) {
	binds := append(append([]Bind{}, s.ReadOnly...), s.Writable...)
	hide := map[string]bool{"proc": true, "dev": true, "tmp": true, "run": true, "build": true}
	for _, b := range binds {
		top := strings.SplitN(strings.TrimPrefix(b.Sandbox, "/"), "/", 2)[0]
		if _, err := os.Lstat(b.Sandbox); err != nil {
			// A new mount point: it is created in bwrap's root, so the
			// host's entry of that name (if any) must not cover it.
			hide[top] = true
		}
	}
	ents, err := os.ReadDir("/")
	if err != nil {
		return nil, fmt.Errorf("listing host root: %w", err)
	}
	args := []string{
		"--unshare-all", "--die-with-parent", "--new-session",
		"--cap-drop", "ALL",
		"--hostname", "undistro-build",
	}
	for _, e := range ents {
		name := e.Name()
		if hide[name] {
			continue
		}
		p := "/" + name
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return nil, fmt.Errorf("reading host symlink %s: %w", p, err)
			}
			args = append(args, "--symlink", target, p)
			continue
		}
		args = append(args, "--ro-bind", p, p)
	}
	args = append(args,
		"--dev", "/dev",
		"--proc", "/proc",
		"--tmpfs", "/tmp",
		"--tmpfs", "/run", // host daemons' unix sockets live here
		"--bind", s.Root, BuildDir,
	)
	for _, b := range s.ReadOnly {
		args = append(args, "--ro-bind", b.Host, b.Sandbox)
	}
	for _, b := range s.Writable {
		args = append(args, "--bind", b.Host, b.Sandbox)
	}
	args = append(args, "--remount-ro", "/", "--clearenv")
	for _, kv := range s.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", k, v)
	}
	if seccomp {
		args = append(args, "--seccomp", "3")
	}
	// A fixed umask: the modes of what the build creates end up in the
	// layer. The script is passed as an argument so its line numbers in
	// error messages stay the recipe's.
	args = append(args, "--chdir", SrcDir, "--", "/bin/sh", "-c", `umask 022 && exec /bin/sh -euc "$1" build`, "sh", s.Script)
	return args, nil
}
