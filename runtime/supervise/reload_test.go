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
