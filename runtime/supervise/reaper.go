package supervise

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaper tracks the children this package waits for itself, so the orphan
// reaper never steals their exit status.
var reaper = struct {
	mu      sync.Mutex
	tracked map[int]bool
	once    sync.Once
	err     error
}{tracked: map[int]bool{}}

// EnableSubreaper makes this process the child subreaper of everything it
// starts (PR_SET_CHILD_SUBREAPER), so a service's orphaned grandchildren are
// reparented to it rather than to init, and starts reaping such orphans on
// SIGCHLD. It is process-wide; the node daemon calls it once. An orphan is
// reaped when it is a zombie child of this process, outside this process's
// own process group, and not a process this package waits for itself.
func EnableSubreaper() error {
	reaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaper.err = fmt.Errorf("setting PR_SET_CHILD_SUBREAPER: %w", err)
			return
		}
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			for range ch {
				reapOrphans()
			}
		}()
		reapOrphans()
	})
	return reaper.err
}

// reapOrphans waits for every zombie orphan of this process.
func reapOrphans() {
	self, pgrp := os.Getpid(), syscall.Getpgrp()
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || reaper.tracked[pid] {
			continue
		}
		state, ppid, pg, ok := procStat(pid)
		if !ok || state != 'Z' || ppid != self || pg == pgrp {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

// procStat reads state, parent pid and process group of pid from
// /proc/PID/stat.
func procStat(pid int) (state byte, ppid, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 3 {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil || len(f[0]) != 1 {
		return 0, 0, 0, false
	}
	return f[0][0], ppid, pgrp, true
}
