package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/logctx"
)

// ErrLocked: the store's lock is held by another process and the wait for
// it was cancelled.
var ErrLocked = errors.New("the store is locked by another process")

// lockFile takes ROOT/lock (flock, exclusive) and records this process in
// it, so a waiter can say who holds it. A wait is a non-blocking attempt
// repeated with a growing pause (at most 250ms): unlike a blocking flock it
// ends when ctx does, and it is only paid when another process holds the
// lock.
func (s *Store) lockFile(ctx context.Context) error {
	fd := int(s.lock.Fd())
	pause := 5 * time.Millisecond
	var timer *time.Timer
	for waited := false; ; waited = true {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			s.recordHolder()
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("locking store %s: %w", s.root, err)
		}
		if !waited {
			logctx.From(ctx).Warn("waiting for the store lock", "lock", s.lock.Name(), "holder", s.holder())
			timer = time.NewTimer(pause)
			defer timer.Stop()
		} else {
			timer.Reset(pause)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("locking store %s: %w: held by %s; gave up waiting: %w", s.root, ErrLocked, s.holder(), context.Cause(ctx))
		case <-timer.C:
		}
		pause = min(pause*2, 250*time.Millisecond)
	}
}

// unlockFile clears the holder record and releases the lock.
func (s *Store) unlockFile() {
	_ = s.lock.Truncate(0)
	_ = unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
}

// recordHolder writes "PID COMMAND" into the lock file.
func (s *Store) recordHolder() {
	cmd := strings.Join(os.Args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	_ = s.lock.Truncate(0)
	_, _ = s.lock.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), cmd)), 0)
}

// holder says who holds the lock: the process /proc/locks names for the lock
// file, with its command line, or else what the holder recorded.
func (s *Store) holder() string {
	if pid := lockOwner(s.lock); pid > 0 {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && len(cmd) > 0 {
			return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
		return fmt.Sprintf("pid %d", pid)
	}
	b := make([]byte, 512)
	n, _ := s.lock.ReadAt(b, 0)
	if pid, cmd, ok := strings.Cut(strings.TrimSpace(string(b[:n])), " "); ok {
		return fmt.Sprintf("pid %s (%s)", pid, cmd)
	}
	return "an unknown process"
}

// lockOwner returns the pid /proc/locks gives for a FLOCK on f's inode, or
// 0.
func lockOwner(f *os.File) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
		f := strings.Fields(sc.Text())
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want {
			if pid, err := strconv.Atoi(f[4]); err == nil && pid != os.Getpid() {
				return pid
			}
		}
	}
	return 0
}
