package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
)

var _ Sandbox = (*Bwrap)(nil)

// Bwrap is a Sandbox that uses bubblewrap (Debian package bubblewrap).
type Bwrap struct {
	// Path is the bwrap executable. Empty: "bwrap" looked up in $PATH.
	Path string

	tools Tools
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
	var toolPaths []string
	for _, t := range s.Tools {
		p, err := b.tools.Paths(ctx, t)
		if err != nil {
			return fmt.Errorf("running build: %w", err)
		}
		toolPaths = append(toolPaths, p...)
	}
	if err := prepare(ctx, s); err != nil {
		return err
	}
	filter := seccompFilter(runtime.GOARCH)
	args, err := bwrapArgs(s, toolPaths, filter != nil)
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
	logctx.From(ctx).DebugContext(ctx, "running build", "root", s.Root, "log", logPath, "bwrap", bin)
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
	for _, d := range []string{"src", "dest", "home", "tmp", "etc"} {
		p := filepath.Join(s.Root, d)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("emptying %s: %w", p, err)
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
	}
	if err := writeEtc(filepath.Join(s.Root, "etc")); err != nil {
		return err
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

// bwrapArgs returns bubblewrap's arguments for s. The sandbox's root is
// bwrap's own empty tmpfs, remounted read-only at the end; it holds only
// the view (see viewArgs), /dev, /proc, /tmp, the build directory and
// s's binds. toolPaths are the host paths of s.Tools.
func bwrapArgs(s Spec, toolPaths []string, seccomp bool) ([]string, error) {
	args := []string{
		"--unshare-all", "--unshare-user",
		"--uid", strconv.Itoa(BuildUID), "--gid", strconv.Itoa(BuildGID),
		"--die-with-parent", "--new-session",
		"--cap-drop", "ALL",
		"--hostname", "undistro-build",
	}
	view, err := viewArgs(filepath.Join(s.Root, "etc"), toolPaths)
	if err != nil {
		return nil, err
	}
	args = append(args, view...)
	args = append(args,
		"--dev", "/dev",
		"--proc", "/proc",
		"--tmpfs", "/tmp",
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
