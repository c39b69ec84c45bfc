package supervise

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// applets are the busybox applets the sandbox tests' images hold.
var applets = []string{"sh", "id", "ls", "sleep", "echo", "true", "cat", "head", "wc", "readlink", "touch", "tr", "mkdir", "cut", "kill", "mount", "httpd", "wget"}

// busyboxRoot builds a tiny image root holding a static busybox, the
// applets the tests use, and the directories named in dirs (such as proc,
// dev, tmp, run).
func busyboxRoot(t testing.TB, dirs ...string) string {
	t.Helper()
	testsupport.RequireRoot(t, "chroot")
	bb := testsupport.RequireTool(t, "busybox", "apt-get install busybox-static")
	root := t.TempDir()
	for _, d := range append([]string{"bin", "etc"}, dirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// sandboxDirs are the directories the launcher mounts on.
var sandboxDirs = []string{"proc", "dev", "tmp", "run"}

func TestChroot(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	logs := t.TempDir()
	s := newSup(t, Options{
		Root: root, Chroot: true, LogDir: logs,
		Users:  []imagespec.User{{Name: "svc", UID: 1234, GID: 1235, Groups: []string{"extra"}}},
		Groups: []imagespec.Group{{Name: "extra", GID: 2000}},
	})
	// checked's readiness command passes only if it sees checked's own
	// /tmp (it runs in the service's root, through its mounts), as its
	// user, in a PID namespace of its own.
	err := s.Start(context.Background(), []imagespec.Service{
		{Name: "who", User: "svc", Exec: []string{"sh", "-c", `echo "pid=$$ ppid=$PPID uid=$(id -u) gid=$(id -g) groups=$(id -G) root=$(ls / | tr '\n' ' ')"; echo ok >&3; exec sleep 300`},
			Ready: &imagespec.Ready{NotifyFD: 3}, StopTimeout: imagespec.Duration(time.Hour)},
		{Name: "checked", User: "svc", Exec: []string{"/bin/sh", "-c", "touch /tmp/marker; exec sleep 300"}, After: []string{"who"},
			Ready: &imagespec.Ready{Command: []string{"/bin/sh", "-c", "[ -e /tmp/marker ] && [ $(id -u) = 1234 ] && [ $$ = 1 ]"}}, StopTimeout: imagespec.Duration(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The service is PID 1 of its namespace; its parent is outside it.
	want := "pid=1 ppid=0 uid=1234 gid=1235 groups=1235 2000 root=bin dev etc proc run tmp "
	waitFor(t, "who's output", func() bool {
		b, _ := os.ReadFile(LogPath(logs, "who"))
		return strings.Contains(string(b), want)
	})
	// sleep, PID 1 of its namespace, has no SIGTERM handler, so the kernel
	// would drop SIGTERM: it gets SIGKILL at once, not after its hour-long
	// StopTimeout (the minute is only a guard against hanging the test).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v: the SIGTERM-less init waited for its stop timeout", err)
	}
	for _, n := range []string{"who", "checked"} {
		if st := status(t, s, n); st.LastExit != "signal: killed" {
			t.Errorf("%s stopped with %q, want signal: killed", n, st.LastExit)
		}
	}
}

// TestSandbox runs, as root, services that probe their sandbox, and checks
// what each printed and how it exited.
func TestSandbox(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	bare := busyboxRoot(t)
	// etc/data is a hardlink to a "layer" file, as the store assembles
	// roots: writing through it would change every image sharing it.
	layer := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(layer, []byte("pristine\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{root, bare} {
		if err := os.Link(layer, filepath.Join(r, "etc/data")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		root     string
		script   string
		want     []string // in the output
		wantExit string
	}{
		{"proc shows the namespace, the service as PID 1", root,
			`echo "pid=$$"; cat /proc/1/cmdline | tr '\0' ' '; echo; ls /proc/self/fd >/dev/null && echo fd-ok; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo "procs=$n"`,
			[]string{"pid=1\n", "/bin/sh -c echo", "fd-ok", "procs=1\n"}, "exit status 0"},
		{"dev", root,
			`echo gone > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; ls /dev | tr '\n' ' '`,
			[]string{"null-ok", "5\n4\n", "fd full null random shm stderr stdin stdout tty urandom zero"}, "exit status 0"},
		{"root is read-only", root,
			`echo evil > /etc/data; echo "rc=$?"; touch /new; echo "rc=$?"; mkdir /etc/x; echo "rc=$?"`,
			[]string{"Read-only file system", "rc=1\n", "rc=1\n", "rc=1\n"}, "exit status 0"},
		{"root cannot remount it writable", root,
			`mount -o remount,rw / ; echo "rc=$?"; mount -t tmpfs none /tmp; echo "rc=$?"; echo evil > /etc/data; echo "rc=$?"`,
			[]string{"mount: permission denied (are you root?)\nrc=1\nmount: permission denied (are you root?)\nrc=1\n", "Read-only file system\nrc=1\n"}, "exit status 0"},
		{"tmp and run are writable", root,
			`echo tmp-ok > /tmp/x && cat /tmp/x; echo run-ok > /run/y && cat /run/y; ls -ld /tmp /run | cut -c1-10 | tr '\n' ' '`,
			[]string{"tmp-ok", "run-ok", "drwxr-xr-x drwxrwxrwt "}, "exit status 0"},
		{"no host files", root, `ls / | tr '\n' ' '; ls /root 2>&1; ls /usr 2>&1 | head -1`,
			[]string{"bin dev etc proc run tmp ", "No such file or directory"}, "exit status 0"},
		{"image without the directories", bare,
			`[ ! -e /proc/self ] && [ ! -e /dev/null ] && echo bare-ok; echo evil > /etc/data; echo "rc=$?"`,
			[]string{"bare-ok", "Read-only file system", "rc=1"}, "exit status 0"},
		{"exit code", root, `exit 3`, nil, "exit status 3"},
		// As its namespace's init, the service cannot be killed from
		// inside; a signal from outside (Stop) kills it (TestChroot).
		{"PID 1 survives its own SIGKILL", root, `kill -KILL $$; echo survived`, []string{"survived"}, "exit status 0"},
		{"exit code of a child killed by a signal", root, `sh -c 'kill -KILL $$'; exit $?`, nil, "exit status 137"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := t.TempDir()
			s := newSup(t, Options{Root: tc.root, Chroot: true, LogDir: logs})
			err := s.Start(context.Background(), []imagespec.Service{{
				Name: "probe", Exec: []string{"/bin/sh", "-c", tc.script}, Restart: imagespec.RestartNever,
			}})
			if err != nil {
				t.Fatal(err)
			}
			var st ServiceStatus
			waitFor(t, "probe to exit", func() bool {
				st = status(t, s, "probe")
				return st.State == StateStopped || st.State == StateFailed
			})
			if st.LastExit != tc.wantExit {
				t.Errorf("exit = %q, want %q", st.LastExit, tc.wantExit)
			}
			// The output is copied to the log as the probe writes it; it
			// may land just after the exit.
			var out, missing string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				b, _ := os.ReadFile(LogPath(logs, "probe"))
				out, missing = string(b), ""
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						missing = w
						break
					}
				}
				if missing == "" {
					break
				}
			}
			if missing != "" {
				t.Errorf("output lacks %q:\n%s", missing, out)
			}
		})
	}
	t.Cleanup(func() {
		b, err := os.ReadFile(layer)
		if err != nil || string(b) != "pristine\n" {
			t.Errorf("the shared layer file holds %q (%v), want it unchanged", b, err)
		}
	})
}

// TestSandboxStartError checks a program missing from the image fails the
// start with the launcher's reason.
func TestSandboxStartError(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	s := newSup(t, Options{Root: root, Chroot: true})
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "nope", Exec: []string{"/bin/nope"}, Restart: imagespec.RestartNever,
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.WaitReady(context.Background())
	if want := "starting /bin/nope: no such file or directory"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("WaitReady = %v, want containing %q", err, want)
	}
}

// childrenOf returns the host pids whose parent is pid, and which of them
// are zombies.
func childrenOf(t *testing.T, pid int) (kids, zombies []int) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, _, ok := procStat(p)
		if !ok || ppid != pid {
			continue
		}
		kids = append(kids, p)
		if state == 'Z' {
			zombies = append(zombies, p)
		}
	}
	return kids, zombies
}

// TestSandboxInit checks the service as its namespace's init: a service
// with a TERM handler gets SIGTERM and exits cleanly; its orphans,
// re-parented to it, die with the namespace when it exits.
func TestSandboxInit(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	logs := t.TempDir()
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: logs})
	// Two orphans: one exits at once, one lives until the namespace ends.
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "svc", Restart: imagespec.RestartNever, Ready: &imagespec.Ready{NotifyFD: 3},
		StopTimeout: imagespec.Duration(time.Minute),
		Exec: []string{"/bin/sh", "-c", `trap 'echo got TERM; exit 0' TERM
(true &) ; (sleep 300 &)
echo up >&3
while :; do sleep 1 & wait $!; done`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := status(t, s, "svc").PID
	var kids []int
	// The loop's sleep and the long orphan, both children of the service.
	waitFor(t, "the long orphan re-parented to the service", func() bool {
		kids, _ = childrenOf(t, svc)
		n := 0
		for _, k := range kids {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(k) + "/cmdline"); string(b) == "sleep\x00300\x00" {
				n++
			}
		}
		return n == 1
	})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := status(t, s, "svc")
	if st.LastExit != "exit status 0" {
		t.Errorf("stopped with %q, want exit status 0 (the service's TERM trap; signal: killed means SIGTERM never reached it)", st.LastExit)
	}
	waitFor(t, "the TERM trap's output", func() bool {
		b, _ := os.ReadFile(LogPath(logs, "svc"))
		return strings.Contains(string(b), "got TERM")
	})
	waitFor(t, "the namespace's processes to be gone", func() bool {
		for _, k := range append(kids, svc) {
			if alive(k) {
				return false
			}
		}
		return true
	})
}
