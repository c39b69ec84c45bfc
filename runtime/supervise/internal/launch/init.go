package launch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs the launcher when os.Args[1] is Arg: it never returns then,
// becoming the service or exiting. Otherwise it returns at once. Call it
// first thing in main.
func Main() {
	if len(os.Args) < 4 || os.Args[1] != Arg {
		return
	}
	os.Exit(launcher(os.Args[2], os.Args[3]))
}

// launcher sets up the sandbox and execs the service; it returns (an exit
// code) only when that failed, after reporting why on the status pipe.
func launcher(ctlArg, statArg string) int {
	// The capability bounding set is per thread: trim it on the thread
	// that execs.
	runtime.LockOSThread()
	ctlFD, err1 := strconv.Atoi(ctlArg)
	statFD, err2 := strconv.Atoi(statArg)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "undistro-init: bad descriptors %q %q\n", ctlArg, statArg)
		return 2
	}
	// Close-on-exec: the supervisor reads EOF on the status pipe once the
	// service has replaced this program.
	unix.CloseOnExec(ctlFD)
	unix.CloseOnExec(statFD)
	status := os.NewFile(uintptr(statFD), "status")
	report := func(format string, a ...any) {
		_, _ = fmt.Fprintf(status, format+"\n", a...)
	}
	ctl := os.NewFile(uintptr(ctlFD), "control")
	var spec Spec
	line, err := bufio.NewReader(ctl).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &spec)
	}
	ctl.Close()
	if err != nil {
		report("error reading the launch spec: %v", err)
		return 1
	}
	err = sandbox(spec.Root)
	if err == nil {
		err = dropCapabilities()
	}
	if err != nil {
		report("error sandboxing %s: %v", spec.Root, err)
		return 1
	}
	if err := spec.become(); err != nil {
		report("error %v", err)
		return 1
	}
	report("exec")
	err = syscall.Exec(spec.Path, spec.Args, spec.Env)
	report("error %v", err)
	return 127
}

// become takes the spec's user, groups and work dir, in the order
// fork/exec does: groups, group, user, then the work dir as that user.
func (s *Spec) become() error {
	if c := s.Cred; c != nil {
		groups := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setting groups %v: %w", c.Groups, err)
		}
		if err := syscall.Setgid(int(c.GID)); err != nil {
			return fmt.Errorf("setting gid %d: %w", c.GID, err)
		}
		if err := syscall.Setuid(int(c.UID)); err != nil {
			return fmt.Errorf("setting uid %d: %w", c.UID, err)
		}
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if err := syscall.Chdir(dir); err != nil {
		return fmt.Errorf("entering work dir %s: %w", dir, err)
	}
	return nil
}
