package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Sandbox runs build scripts in isolation.
type Sandbox interface {
	// Run runs s.Script and returns nil if it exited 0, a *BuildError if
	// it ran and failed, or another error if it could not be started.
	Run(ctx context.Context, s Spec) error
}

// Paths inside the sandbox.
const (
	BuildDir = "/build"
	SrcDir   = "/build/src"
	DestDir  = "/build/dest"
	HomeDir  = "/build/home"
	TmpDir   = "/build/tmp"
)

// DefaultPath is $PATH inside the sandbox.
const DefaultPath = "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// Spec is one build.
type Spec struct {
	// Root is the build directory on the host, mounted read-write at
	// /build. Run owns it: it empties Root/src, Root/dest, Root/home and
	// Root/tmp before the build, and writes the sandbox's /etc to Root/etc.
	Root string
	// Src is the source tree on the host. It is copied (modes, symlinks and
	// timestamps kept, ownership not) into Root/src, the script's working
	// directory. Empty: the build starts in an empty /build/src.
	Src string
	// Env is added to the clean environment (see [Spec.Environ]); an entry
	// here overrides a default of the same name.
	Env map[string]string
	// Script is run with /bin/sh -euc.
	Script string
	// ReadOnly are extra read-only binds (GOMODCACHE, build dependencies
	// at /deps/NAME). A sandbox path must be new (e.g. under /deps) or
	// exist on the host.
	ReadOnly []Bind
	// Tools are the host tools the build declared (host:NAME): each one's
	// executable, shared libraries and own directories (see [Tools]) are
	// made visible. Nothing else of the host is, besides /usr (without
	// /usr/local and the toolchain directories of undeclared tools).
	Tools []string
	// Writable are extra writable binds, e.g. a shared GOCACHE. Declare
	// only caches whose content cannot change a build's output.
	Writable []Bind
	// Log is the file that receives the script's stdout and stderr.
	// Empty: Root + ".log".
	Log string
	// Jobs is $JOBS. Zero: the number of CPUs.
	Jobs int
	// Epoch is $SOURCE_DATE_EPOCH (unless Env sets it).
	Epoch int64
}

// Bind mounts the host path Host at Sandbox inside the sandbox.
type Bind struct{ Host, Sandbox string }

// DestDir returns where the built tree is on the host: Root/dest.
func (s Spec) DestDir() string { return filepath.Join(s.Root, "dest") }

// LogPath returns the log file path: Log, or Root + ".log".
func (s Spec) LogPath() string {
	if s.Log != "" {
		return s.Log
	}
	return filepath.Clean(s.Root) + ".log"
}

// Environ returns the script's whole environment, sorted: PATH, HOME,
// TMPDIR, SRC, DESTDIR, PREFIX, JOBS, SOURCE_DATE_EPOCH, LANG, LC_ALL, TZ,
// SHELL, then Env on top.
func (s Spec) Environ() []string {
	jobs := s.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	env := map[string]string{
		"PATH":              DefaultPath,
		"HOME":              HomeDir,
		"TMPDIR":            TmpDir,
		"SRC":               SrcDir,
		"DESTDIR":           DestDir,
		"PREFIX":            "/usr",
		"JOBS":              strconv.Itoa(jobs),
		"SOURCE_DATE_EPOCH": strconv.FormatInt(s.Epoch, 10),
		"LANG":              "C.UTF-8",
		"LC_ALL":            "C.UTF-8",
		"TZ":                "UTC",
		"SHELL":             "/bin/sh",
	}
	for k, v := range s.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// validate checks s and returns it with Root made absolute.
func (s Spec) validate() (Spec, error) {
	if s.Root == "" {
		return s, errors.New("running build: Spec.Root is empty: give the build directory")
	}
	root, err := filepath.Abs(s.Root)
	if err != nil {
		return s, fmt.Errorf("running build: %w", err)
	}
	s.Root = root
	if strings.TrimSpace(s.Script) == "" {
		return s, errors.New("running build: the script is empty: give [build] script in the recipe")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return s, fmt.Errorf("running build: environment variable name %q is invalid", k)
		}
	}
	for _, b := range append(append([]Bind{}, s.ReadOnly...), s.Writable...) {
		if !path.IsAbs(b.Sandbox) || path.Clean(b.Sandbox) != b.Sandbox || b.Sandbox == "/" {
			return s, fmt.Errorf("running build: bind target %q must be an absolute, clean path other than /", b.Sandbox)
		}
		if reserved(b.Sandbox) {
			return s, fmt.Errorf("running build: bind target %q overlaps %s, /proc, /dev, /tmp or /etc, which the sandbox owns", b.Sandbox, BuildDir)
		}
		if _, err := os.Stat(b.Host); err != nil {
			return s, fmt.Errorf("running build: bind source for %s: %w", b.Sandbox, err)
		}
	}
	return s, nil
}

func reserved(p string) bool {
	for _, r := range []string{BuildDir, "/proc", "/dev", "/tmp", "/etc"} {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// TailLines is how many log lines a BuildError carries.
const TailLines = 20

// BuildError is a build script that ran and failed.
type BuildError struct {
	LogPath string
	Tail    []string // the last TailLines lines of the log
	Err     error    // the exit status
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build failed: %v; last %d lines of %s:", e.Err, len(e.Tail), e.LogPath)
	for _, l := range e.Tail {
		b.WriteString("\n    ")
		b.WriteString(l)
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }

// tail returns the last n lines of the file at p (reading at most its last
// 64 KiB).
func tail(p string, n int) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
