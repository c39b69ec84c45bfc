package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/internal/testsupport"
)

// lockChild is the test binary as a second process on a store's lock:
// "hold" takes the lock and keeps it until killed; "wait" opens the store
// (waiting for the lock) until SIGTERM; "other" tries to open and flock the
// lock file (run as another user).
func lockChild(mode, root string) int {
	switch mode {
	case "hold":
		s, err := Open(context.Background(), root)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if _, err := s.acquire(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Println("held")
		time.Sleep(time.Hour)
	case "wait":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		ctx = logctx.With(ctx, slog.New(slog.NewTextHandler(os.Stderr, nil))) // the test reads the wait warning
		s, err := Open(ctx, root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 4
		}
		s.Close()
	case "other":
		f, err := os.OpenFile(filepath.Join(root, "lock"), os.O_RDWR, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 5
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 5
		}
		fmt.Println("took the lock")
	}
	return 0
}

func lockCmd(t *testing.T, bin, mode, root string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "STORE_LOCK_CHILD="+mode+","+root)
	return cmd
}

func TestStorePermissions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(root, 0o755); err != nil { // an existing, too open root
		t.Fatal(err)
	}
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for path, want := range map[string]fs.FileMode{root: 0o700 | fs.ModeDir, filepath.Join(root, "lock"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, want)
		}
	}
	if _, err := Open(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "empty root") {
		t.Errorf("Open(\"\") = %v, want an empty-root error", err)
	}
}

// TestLockWaitEndsOnSIGTERM: a process waiting for a lock another holds
// exits on SIGTERM, naming the holder's pid and command.
func TestLockWaitEndsOnSIGTERM(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	holder := lockCmd(t, os.Args[0], "hold", root)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	waiter := lockCmd(t, os.Args[0], "wait", root)
	pr, pw := io.Pipe()
	waiter.Stderr = pw
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		stderr bytes.Buffer
	)
	waiting := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			stderr.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "waiting for the store lock") {
				once.Do(func() { close(waiting) })
			}
		}
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second):
		_ = waiter.Process.Kill()
		t.Fatal("the waiter never said it waits for the lock")
	}
	if err := waiter.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = waiter.Wait()
	pw.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("waiter exited %v, want code 4 (an error after SIGTERM)", err)
	}
	mu.Lock()
	got := stderr.String()
	mu.Unlock()
	for _, want := range []string{
		"the store is locked by another process",
		fmt.Sprintf("held by pid %d (%s -test.run=^$)", holder.Process.Pid, os.Args[0]),
		"gave up waiting: terminated signal received",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("waiter's stderr does not contain %q:\n%s", want, got)
		}
	}
}

// TestLockNotTakeableByOtherUsers runs a process as nobody against a store
// root's lock: it cannot even open it.
func TestLockNotTakeableByOtherUsers(t *testing.T) {
	testsupport.RequireRoot(t, "switching to user nobody")
	root := filepath.Join(t.TempDir(), "store")
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The test binary must be reachable by nobody: copy it to a 0755 dir.
	pub, err := os.MkdirTemp("", "undistro-locktest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	if err := os.Chmod(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(pub, "store.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// The root's parents are traversable; only the root itself shuts
	// nobody out.
	for d := filepath.Dir(root); d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := lockCmd(t, bin, "other", root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("nobody on the lock: %v\n%s\nwant permission denied", err, out)
	}
}

// TestHolderFromProcLocks: a holder that records nothing in the lock file
// (flock(1) here) is still named, from /proc/locks.
func TestHolderFromProcLocks(t *testing.T) {
	testsupport.RequireTool(t, "flock", "apt-get install util-linux")
	root := filepath.Join(t.TempDir(), "store")
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command("flock", filepath.Join(root, "lock"), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testsupport.WaitFor(t, 10*time.Second, "flock(1) to take the lock", func() bool { return lockOwner(s.lock) == cmd.Process.Pid })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.acquire(ctx)
	want := fmt.Sprintf("held by pid %d (flock %s sleep 60)", cmd.Process.Pid, filepath.Join(root, "lock"))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("acquire = %v, want ErrLocked naming %q", err, want)
	}
}
