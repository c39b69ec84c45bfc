package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestReload: a reload signal reaches the service, which keeps its PID; a
// reload command runs and the service keeps its PID; a service without a
// handler for its signal is not signalled (it would die) but refused.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hup := script(t, dir, "hup", fmt.Sprintf("trap 'echo hup >> %s' HUP\necho up >> %s\nwhile :; do sleep 0.05 & wait $!; done", log, log))
	deaf := script(t, dir, "deaf", "exec sleep 1000")
	s := newSup(t, Options{LogDir: dir, Settle: -1})
	svcs := []imagespec.Service{
		{Name: "hup", Exec: []string{hup}, Restart: imagespec.RestartAlways, Reload: &imagespec.Reload{Signal: "SIGHUP"}},
		{Name: "cmd", Exec: []string{deaf}, Restart: imagespec.RestartAlways, Reload: &imagespec.Reload{Command: []string{"/bin/sh", "-c", "echo cmd >> " + log}}},
		{Name: "deaf", Exec: []string{deaf}, Restart: imagespec.RestartAlways, Reload: &imagespec.Reload{Signal: "SIGHUP"}},
		{Name: "none", Exec: []string{deaf}, Restart: imagespec.RestartAlways},
	}
	if err := s.Start(context.Background(), svcs); err != nil {
		t.Fatal(err)
	}
	has := func(what string) bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), what) }
	waitFor(t, "hup to install its trap", func() bool { return has("up") })
	pids := map[string]int{}
	for _, n := range []string{"hup", "cmd", "deaf", "none"} {
		pids[n] = waitState(t, s, n, StateRunning).PID
	}
	ctx := context.Background()
	if err := s.Reload(ctx, "hup", nil); err != nil {
		t.Fatalf("reloading hup: %v", err)
	}
	waitFor(t, "hup to get SIGHUP", func() bool { return has("hup") })
	if err := s.Reload(ctx, "cmd", nil); err != nil || !has("cmd") {
		t.Fatalf("reloading cmd: %v (ran: %v)", err, has("cmd"))
	}
	for _, n := range []string{"deaf", "none"} {
		if err := s.Reload(ctx, n, nil); !errors.Is(err, ErrCannotReload) {
			t.Errorf("reloading %s = %v, want ErrCannotReload", n, err)
		}
	}
	for n, pid := range pids {
		if st := status(t, s, n); st.PID != pid || st.State != StateRunning || st.Restarts != 0 {
			t.Errorf("%s after reloads: %+v, want running with PID %d, no restart", n, st, pid)
		}
	}
}

// TestReloadSandboxed: in the sandbox (PID 1 of its namespace, chrooted),
// the reload signal reaches the service's handler and the reload command
// runs in its root as its user, seeing its private /tmp; its PID is kept.
func TestReloadSandboxed(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: t.TempDir(), Settle: -1,
		Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1235}}})
	err := s.Start(context.Background(), []imagespec.Service{
		{Name: "hup", User: "svc", Exec: []string{"/bin/sh", "-c", `trap 'echo hup >> /tmp/log' HUP; echo ready >&3; while :; do sleep 0.05 & wait $!; done`},
			Ready: &imagespec.Ready{NotifyFD: 3}, Reload: &imagespec.Reload{Signal: "SIGHUP"}},
		{Name: "cmd", User: "svc", Exec: []string{"/bin/sh", "-c", "touch /tmp/mine; exec sleep 300"},
			Reload: &imagespec.Reload{Command: []string{"/bin/sh", "-c", "[ -e /tmp/mine ] && [ $(id -u) = 1234 ] && echo cmd > /tmp/log"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	inRoot := func(name, p string) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", status(t, s, name).PID, p))
		return string(b)
	}
	waitFor(t, "cmd to start", func() bool {
		pid := status(t, s, "cmd").PID
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/tmp/mine", pid))
		return pid > 0 && err == nil
	})
	before := map[string]int{"hup": status(t, s, "hup").PID, "cmd": status(t, s, "cmd").PID}
	ctx := context.Background()
	for _, n := range []string{"hup", "cmd"} {
		if err := s.Reload(ctx, n, nil); err != nil {
			t.Fatalf("reloading %s: %v", n, err)
		}
	}
	waitFor(t, "hup's handler to run", func() bool { return strings.Contains(inRoot("hup", "/tmp/log"), "hup") })
	if got := inRoot("cmd", "/tmp/log"); got != "cmd\n" {
		t.Errorf("cmd's /tmp/log = %q: the reload command did not run in its sandbox as its user", got)
	}
	for n, pid := range before {
		if st := status(t, s, n); st.PID != pid || st.Restarts != 0 {
			t.Errorf("%s after reload: %+v, want PID %d kept", n, st, pid)
		}
	}
}
