package supervise

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// busyboxRoot builds a tiny image root holding a static busybox and the
// applets the tests use.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox (Debian busybox-static) not installed")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "id", "ls", "sleep", "echo", "true"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestChroot(t *testing.T) {
	root := busyboxRoot(t)
	logs := t.TempDir()
	s := newSup(t, Options{
		Root: root, Chroot: true, LogDir: logs,
		Users:  []imagespec.User{{Name: "svc", UID: 1234, GID: 1235, Groups: []string{"extra"}}},
		Groups: []imagespec.Group{{Name: "extra", GID: 2000}},
	})
	err := s.Start(context.Background(), []imagespec.Service{
		{Name: "who", User: "svc", Exec: []string{"sh", "-c", `echo "pid=$$ uid=$(id -u) gid=$(id -g) groups=$(id -G) root=$(ls /)"; echo ok >&3; exec sleep 300`},
			Ready: &imagespec.Ready{NotifyFD: 3}},
		{Name: "checked", Exec: []string{"/bin/sleep", "300"}, After: []string{"who"},
			Ready: &imagespec.Ready{Command: []string{"/bin/sh", "-c", "[ -x /bin/busybox ] && [ ! -e /proc/self ]"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "pid=1 uid=1234 gid=1235 groups=1235 2000 root=bin"
	waitFor(t, "who's output", func() bool {
		b, _ := os.ReadFile(LogPath(logs, "who"))
		return strings.Contains(string(b), want)
	})
	// sleep is its namespace's init and has no SIGTERM handler: stopping
	// must not wait for the stop timeout.
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > DefaultStopTimeout/2 {
		t.Errorf("stopping took %v: SIGTERM to a namespace init without a handler was not turned into SIGKILL", took)
	}
}
