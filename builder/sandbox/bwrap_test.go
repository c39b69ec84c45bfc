package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

func requireBwrap(t *testing.T) *Bwrap {
	t.Helper()
	testsupport.RequireTool(t, "bwrap", "apt-get install bubblewrap")
	return &Bwrap{}
}

func newSpec(t *testing.T, script string) Spec {
	dir := t.TempDir()
	return Spec{Root: filepath.Join(dir, "root"), Log: filepath.Join(dir, "log", "build.log"), Script: script, Epoch: 1234}
}

// outsideDir returns a fresh host directory that is not under /tmp (which
// the sandbox replaces with its own tmpfs), so a write to it would reach the
// host if the sandbox let it.
func outsideDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "undistro-sandbox-test-")
	if err != nil {
		testsupport.Unavailable(t, "no writable /var/tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestRunSuccess(t *testing.T) {
	bw := requireBwrap(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.c"), []byte("int main(){}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("main.c", filepath.Join(src, "link.c")); err != nil {
		t.Fatal(err)
	}
	// A read-only source tree, as the source cache keeps it.
	if err := os.Mkdir(filepath.Join(src, "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "ro/data"), []byte("d"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(src, "ro"), src} {
		if err := os.Chmod(p, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(src, 0o755); os.Chmod(filepath.Join(src, "ro"), 0o755) })
	s := newSpec(t, `
test "$(pwd)" = /build/src
test "$(readlink link.c)" = main.c
echo configured > config.log
echo more >> ro/data
touch ro/new
mkdir -p "$DESTDIR$PREFIX/bin"
cp main.c "$DESTDIR$PREFIX/bin/prog"
cat /proc/sys/kernel/hostname > "$DESTDIR/hostname"
echo home > "$HOME/h"
echo tmp > "$TMPDIR/t"
echo "built with $JOBS jobs"
`)
	s.Src = src
	s.Jobs = 3
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.DestDir(), "usr/bin/prog"))
	if err != nil || string(got) != "int main(){}\n" {
		t.Errorf("dest file = %q, %v", got, err)
	}
	if h, _ := os.ReadFile(filepath.Join(s.DestDir(), "hostname")); string(h) != "undistro-build\n" {
		t.Errorf("hostname = %q", h)
	}
	if fi, err := os.Stat(filepath.Join(s.Root, "src/main.c")); err != nil || fi.Mode().Perm() != 0o640|0o200 {
		t.Errorf("source copy mode: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "home/h")); err != nil {
		t.Errorf("HOME write: %v", err)
	}
	if log, _ := os.ReadFile(s.Log); !strings.Contains(string(log), "built with 3 jobs") {
		t.Errorf("log = %q", log)
	}
	// A second run starts from empty build directories.
	s.Script = `test ! -e "$DESTDIR/hostname" && test ! -e "$HOME/h" && test -e main.c`
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatalf("rerun: %v", err)
	}
}

func TestRunWriteOutsideFails(t *testing.T) {
	bw := requireBwrap(t)
	outside := outsideDir(t)
	tests := []struct {
		name    string
		target  string // host path that must not appear
		script  string
		wantErr string
	}{
		{name: "usr", target: "/usr/undistro-sandbox-x", wantErr: "Read-only file system"},
		{name: "etc", target: "/etc/undistro-sandbox-x", wantErr: "Read-only file system"},
		{name: "root home", target: "/root/undistro-sandbox-x", wantErr: "Directory nonexistent"},
		{name: "host dir outside /tmp", target: filepath.Join(outside, "x"), wantErr: "Directory nonexistent"},
		{name: "new top-level dir", target: "/undistro-sandbox-x", script: "mkdir /undistro-sandbox-x", wantErr: "Read-only file system"},
		{name: "remount rw", target: filepath.Join(outside, "y"), script: "mount -o remount,rw / || true; mount -o remount,rw /var || true; touch " + filepath.Join(outside, "y"), wantErr: "No such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := tc.script
			if script == "" {
				script = "echo pwned > " + tc.target
			}
			s := newSpec(t, script)
			err := bw.Run(context.Background(), s)
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want *BuildError", err)
			}
			if !strings.Contains(strings.Join(be.Tail, "\n"), tc.wantErr) {
				t.Errorf("tail = %q, want %q", be.Tail, tc.wantErr)
			}
			if _, err := os.Lstat(tc.target); !errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(tc.target)
				t.Errorf("%s appeared on the host (%v)", tc.target, err)
			}
		})
	}
}

func TestRunNoNetwork(t *testing.T) {
	bw := requireBwrap(t)
	testsupport.RequireTool(t, "bash", "apt-get install bash")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := testsupport.Accept(t, l)
	port := l.Addr().(*net.TCPAddr).Port
	// Check the probe works outside the sandbox, so its failure inside
	// means something.
	probe := fmt.Sprintf(`bash -c 'echo hi > /dev/tcp/127.0.0.1/%d'`, port)
	if out, err := exec.Command("sh", "-c", probe).CombinedOutput(); err != nil {
		t.Fatalf("probe fails on the host: %v: %s", err, out)
	}
	for accepted.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	accepted.Store(0)

	err = bw.Run(context.Background(), newSpec(t, probe))
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BuildError", err)
	}
	if tail := strings.Join(be.Tail, "\n"); !strings.Contains(tail, "Connection refused") {
		t.Errorf("tail = %q, want Connection refused", tail)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("host listener accepted %d connections from the sandbox", n)
	}
	// Only loopback exists.
	s := newSpec(t, `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > "$DESTDIR/ifaces"`)
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.DestDir(), "ifaces")); string(got) != "lo\n" {
		t.Errorf("interfaces = %q, want lo only", got)
	}
}

func TestRunCleanEnv(t *testing.T) {
	bw := requireBwrap(t)
	t.Setenv("UNDISTRO_HOST_SECRET", "leak")
	s := newSpec(t, `env | sort > "$DESTDIR/env"`)
	s.Env = map[string]string{"UNDISTRO_OPT_NLS": "false", "TZ": "Europe/Paris"}
	s.Jobs = 2
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.DestDir(), "env"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		// The shell itself adds PWD (and may add OLDPWD/SHLVL).
		if k, _, _ := strings.Cut(l, "="); k == "PWD" || k == "OLDPWD" || k == "SHLVL" {
			continue
		}
		got = append(got, l)
	}
	want := []string{
		"DESTDIR=/build/dest", "HOME=/build/home", "JOBS=2", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"PATH=" + DefaultPath, "PREFIX=/usr", "SHELL=/bin/sh", "SOURCE_DATE_EPOCH=1234", "SRC=/build/src",
		"TMPDIR=/build/tmp", "TZ=Europe/Paris", "UNDISTRO_OPT_NLS=false",
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env:\n got %q\nwant %q", got, want)
	}
}

func TestRunFixedUmask(t *testing.T) {
	bw := requireBwrap(t)
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	s := newSpec(t, "mkdir \"$DESTDIR/d\"\ntouch \"$DESTDIR/d/f\"\n")
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"d": 0o755, "d/f": 0o644} {
		fi, err := os.Stat(filepath.Join(s.DestDir(), p))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	// Line numbers in errors are the script's own.
	err := bw.Run(context.Background(), newSpec(t, "true\nfalse_command_xyz\n"))
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(strings.Join(be.Tail, "\n"), "build: 2: false_command_xyz: not found") {
		t.Errorf("err = %v", err)
	}
}

func TestRunFailingBuild(t *testing.T) {
	bw := requireBwrap(t)
	s := newSpec(t, `echo starting; for i in $(seq 1 30); do echo "line $i"; done; echo "oops" >&2; exit 3`)
	err := bw.Run(context.Background(), s)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BuildError", err)
	}
	if len(be.Tail) != TailLines || be.Tail[0] != "line 12" || be.Tail[TailLines-1] != "oops" {
		t.Errorf("tail = %q", be.Tail)
	}
	msg := err.Error()
	for _, want := range []string{"build failed: exit status 3", "last 20 lines of " + s.Log, "\n    line 30\n    oops"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("unwrapped exit = %v", exit)
	}
}

func TestRunBinds(t *testing.T) {
	bw := requireBwrap(t)
	dep := t.TempDir()
	if err := os.WriteFile(filepath.Join(dep, "lib.a"), []byte("dep"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	same := outsideDir(t) // bound at its own host path, which exists
	s := newSpec(t, `
cp /deps/foo/lib.a "$DESTDIR/"
echo cached > /cache/go/entry
ls `+same+` >/dev/null
if touch /deps/foo/x 2>/dev/null; then echo "dep is writable"; exit 1; fi
if touch `+same+`/x 2>/dev/null; then echo "same-path bind is writable"; exit 1; fi
`)
	s.ReadOnly = []Bind{{Host: dep, Sandbox: "/deps/foo"}, {Host: same, Sandbox: same}}
	s.Writable = []Bind{{Host: cache, Sandbox: "/cache/go"}}
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.DestDir(), "lib.a")); string(b) != "dep" {
		t.Errorf("copied dep = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(cache, "entry")); string(b) != "cached\n" {
		t.Errorf("cache entry = %q", b)
	}
}

func TestRunCancel(t *testing.T) {
	bw := requireBwrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Were the deadline ignored, sleep would end the build with success.
	err := bw.Run(ctx, newSpec(t, "sleep 60"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestSpecErrors(t *testing.T) {
	dir := t.TempDir()
	fakeBwrap := filepath.Join(dir, "fake-bwrap")
	if err := os.WriteFile(fakeBwrap, []byte("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    Spec
		bwrap   string
		wantErr string
	}{
		{name: "bwrap cannot set up", spec: Spec{Root: filepath.Join(dir, "r2"), Script: "true"}, bwrap: fakeBwrap, wantErr: "setting up the build sandbox: bwrap: setting up uid map: Permission denied (see " + filepath.Join(dir, "r2") + ".log). Run as root, or allow"},
		{name: "no root", spec: Spec{Script: "true"}, wantErr: "Spec.Root is empty"},
		{name: "no script", spec: Spec{Root: dir, Script: " \n"}, wantErr: "the script is empty"},
		{name: "bad env name", spec: Spec{Root: dir, Script: "true", Env: map[string]string{"A=B": "x"}}, wantErr: `environment variable name "A=B" is invalid`},
		{name: "relative bind", spec: Spec{Root: dir, Script: "true", ReadOnly: []Bind{{Host: dir, Sandbox: "deps/x"}}}, wantErr: `bind target "deps/x" must be an absolute, clean path`},
		{name: "bind over build", spec: Spec{Root: dir, Script: "true", Writable: []Bind{{Host: dir, Sandbox: "/build/x"}}}, wantErr: `bind target "/build/x" overlaps /build`},
		{name: "bind over etc", spec: Spec{Root: dir, Script: "true", ReadOnly: []Bind{{Host: dir, Sandbox: "/etc/passwd"}}}, wantErr: `bind target "/etc/passwd" overlaps /build, /proc, /dev, /tmp or /etc`},
		{name: "bind root", spec: Spec{Root: dir, Script: "true", ReadOnly: []Bind{{Host: dir, Sandbox: "/"}}}, wantErr: `bind target "/" must be`},
		{name: "missing bind source", spec: Spec{Root: dir, Script: "true", ReadOnly: []Bind{{Host: dir + "/nope", Sandbox: "/deps/x"}}}, wantErr: "bind source for /deps/x: stat " + dir + "/nope: no such file"},
		{name: "missing bwrap", spec: Spec{Root: dir, Script: "true"}, bwrap: "/nonexistent/bwrap", wantErr: "bwrap not found: install bubblewrap"},
		{name: "source not a dir", spec: Spec{Root: filepath.Join(dir, "r"), Src: "/etc/hostname", Script: "true"}, bwrap: "/bin/true", wantErr: "copying source: /etc/hostname is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Bwrap{Path: tc.bwrap}).Run(context.Background(), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
