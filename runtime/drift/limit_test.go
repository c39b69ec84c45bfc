package drift

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

const limitChildEnv = "UNDISTRO_DRIFT_LIMIT_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(limitChildEnv) != "" {
		limitChild()
		return
	}
	os.Exit(m.Run())
}

// limitChild runs in a user namespace of its own whose inotify watch
// limit it sets to 1, then asks a watcher for two directories.
func limitChild() {
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte("1"), 0o644); err != nil {
		fmt.Println("setting the limit:", err)
		os.Exit(2)
	}
	var dirs []string
	for range 2 {
		d, err := os.MkdirTemp("", "limit")
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		defer os.RemoveAll(d)
		dirs = append(dirs, d)
	}
	w, err := NewWatcher(0)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	err = w.Sync(dirs)
	fmt.Println(err)
	if !errors.Is(err, ErrBudget) {
		os.Exit(1)
	}
}

// TestSystemWatchLimit: at the system's inotify watch limit (set to 1 in
// a user namespace, where the limit is the namespace's own) the watcher
// fails with a message naming the limit and how to raise it.
func TestSystemWatchLimit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), limitChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "setting the limit") || errors.Is(err, syscall.EPERM) {
		testsupport.Unavailable(t, "user namespaces are not available to set an inotify limit: %v %s", err, out)
		return
	}
	if err != nil || !strings.Contains(string(out), "the system's inotify watch limit is reached") || !strings.Contains(string(out), "sysctl -w fs.inotify.max_user_watches=N") {
		t.Fatalf("watcher at the system limit: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
