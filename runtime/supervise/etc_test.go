package supervise

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestEtcBind: with Options.Etc, a sandboxed service sees the node's /etc,
// read-only even to root, instead of the image's.
func TestEtcBind(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	if err := os.WriteFile(filepath.Join(root, "etc/conf"), []byte("image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	if err := os.WriteFile(filepath.Join(etc, "conf"), []byte("node\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: logs, Etc: func() string { return etc }, Users: []imagespec.User{{Name: "root"}}})
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "reader", User: "root",
		Exec:  []string{"sh", "-c", `echo "conf=$(cat /etc/conf)"; if { echo x > /etc/new; } 2>/dev/null; then echo etc=writable; else echo etc=read-only; fi; echo ok >&3; exec sleep 300`},
		Ready: &imagespec.Ready{NotifyFD: 3}, StopTimeout: imagespec.Duration(time.Second),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reader's output", func() bool {
		b, _ := os.ReadFile(LogPath(logs, "reader"))
		return strings.Contains(string(b), "etc=")
	})
	b, _ := os.ReadFile(LogPath(logs, "reader"))
	if !strings.Contains(string(b), "conf=node\netc=read-only\n") {
		t.Fatalf("reader printed %q, want the node's /etc, read-only", b)
	}
	if _, err := os.Stat(filepath.Join(etc, "new")); err == nil {
		t.Fatal("the service wrote the node's /etc")
	}
}
