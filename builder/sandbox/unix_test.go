package sandbox

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestRunNoUnixSockets: a host daemon listening on a unix socket in the
// (read-only) host file system is not reachable from a build, while
// socketpair still works.
func TestRunNoUnixSockets(t *testing.T) {
	bw := requireBwrap(t)
	testsupport.RequireTool(t, "python3", "apt-get install python3")
	if seccompFilter(runtime.GOARCH) == nil {
		testsupport.Unavailable(t, "no seccomp filter for %s", runtime.GOARCH)
	}
	sockDir := outsideDir(t)
	sock := filepath.Join(sockDir, "daemon.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	accepted := testsupport.Accept(t, l)
	connect := `python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected")' ` + sock
	// The probe reaches the daemon from the host.
	if out, err := exec.Command("sh", "-c", connect).CombinedOutput(); err != nil {
		t.Fatalf("probe fails on the host: %v: %s", err, out)
	}
	for accepted.Load() == 0 {
		runtime.Gosched()
	}
	accepted.Store(0)

	// The socket's directory is bound in, so only the seccomp filter
	// stands between the build and the daemon.
	spec := newSpec(t, connect)
	spec.ReadOnly = []Bind{{Host: sockDir, Sandbox: sockDir}}
	err = bw.Run(context.Background(), spec)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BuildError", err)
	}
	if tail := strings.Join(be.Tail, "\n"); !strings.Contains(tail, "PermissionError") {
		t.Errorf("tail = %q, want a PermissionError", tail)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("daemon accepted %d connections from the sandbox", n)
	}

	s := newSpec(t, `python3 -c 'import socket; a,b=socket.socketpair(); a.send(b"ok"); print(b.recv(2).decode())' > "$DESTDIR/pair"; ls -A /run > "$DESTDIR/run" 2>&1 || true`)
	if err := bw.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.DestDir(), "pair")); string(b) != "ok\n" {
		t.Errorf("socketpair in the sandbox gave %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(s.DestDir(), "run")); !strings.Contains(string(b), "No such file") {
		t.Errorf("/run in the sandbox lists %q, want it absent", b)
	}
}
