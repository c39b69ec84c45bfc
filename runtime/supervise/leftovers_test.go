package supervise

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestKillLeftovers leaves processes tagged like a dead supervisor's
// services behind and checks KillLeftovers kills exactly those.
func TestKillLeftovers(t *testing.T) {
	tag := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command("sleep", "300")
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	left := start(TagEnv + "=" + tag)
	other := start(TagEnv + "=" + tag + "-other")
	untagged := start()

	n, err := KillLeftovers(tag)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("killed %d processes, want 1", n)
	}
	if err := left.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("tagged leftover: %v, want killed", err)
	}
	for _, c := range []*exec.Cmd{other, untagged} {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.Process.Pid)); err != nil {
			t.Fatalf("process %d without the tag was killed", c.Process.Pid)
		}
	}
	if _, err := KillLeftovers(""); err == nil {
		t.Fatal("empty tag accepted")
	}
}

// TestTagReachesService checks Options.Tag is in the service environment.
func TestTagReachesService(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(ctx, Options{Tag: "node-x"})
	svc := imagespec.Service{Name: "envdump", Exec: []string{"/bin/sh", "-c", "env > " + out + "; exec sleep 300"}, Restart: imagespec.RestartNever}
	if err := s.Start(ctx, []imagespec.Service{svc}); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background(), "envdump")
	if err := s.WaitReady(ctx, "envdump"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), TagEnv+"=node-x\n") {
		t.Fatalf("service environment lacks %s=node-x:\n%s", TagEnv, b)
	}
}
