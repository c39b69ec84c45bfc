package supervise

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// script writes an executable /bin/sh script named name into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// newSup returns a Supervisor whose services are stopped at test end.
func newSup(t *testing.T, o Options) *Supervisor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := New(ctx, o)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := s.Stop(sctx); err != nil {
			t.Errorf("stopping at cleanup: %v", err)
		}
		cancel()
	})
	return s
}

// status returns the status of service name.
func status(t *testing.T, s *Supervisor, name string) ServiceStatus {
	t.Helper()
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no service %q in status", name)
	return ServiceStatus{}
}

// waitFor polls cond (tests may poll; the supervisor does not) until it
// holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.WaitFor(t, 10*time.Second, what, cond)
}

// waitState waits until service name is in state st.
func waitState(t *testing.T, s *Supervisor, name string, st State) ServiceStatus {
	t.Helper()
	var last ServiceStatus
	waitFor(t, name+" "+string(st), func() bool {
		last = status(t, s, name)
		return last.State == st
	})
	return last
}

// alive reports whether pid still exists (zombies included).
func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
