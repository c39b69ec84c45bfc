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

	"github.com/un-distro/undistro/runtime/imagespec"
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
	if spec.Legacy {
		err = legacy(&spec)
	} else {
		err = harden(&spec)
	}
	if err != nil {
		report("error sandboxing %s: %v", spec.Root, err)
		return 1
	}
	report("exec")
	err = syscall.Exec(spec.Path, spec.Args, spec.Env)
	report("error %v", err)
	return 127
}

// legacy is the sandbox of before issue 13, for the benchmark's baseline.
func legacy(spec *Spec) error {
	if err := sandbox(spec); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if err := spec.become(); err != nil {
		return err
	}
	return chdir(spec.Dir)
}

// harden sets the sandbox up, in this order: network, mounts and root;
// a new session keyring; inherited descriptors closed at exec; the
// bounding set emptied, seccomp and no_new_privs (as
// root: a filter needs no_new_privs or CAP_SYS_ADMIN); the user; the
// capabilities left; the task limit (after setuid, which it would fail);
// the work dir; the memory limit.
func harden(spec *Spec) error {
	if spec.Network != imagespec.NetworkHost && spec.Network != imagespec.NetworkNone {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := sandbox(spec); err != nil {
		return err
	}
	if err := newSessionKeyring(); err != nil {
		return err
	}
	if err := closeInherited(spec.KeepFDs); err != nil {
		return err
	}
	if err := confine(spec); err != nil {
		return err
	}
	if err := spec.become(); err != nil {
		return err
	}
	if err := setCapabilities(spec.Caps); err != nil {
		return err
	}
	if err := setRlimit(unix.RLIMIT_NPROC, spec.RlimitNproc); err != nil {
		return fmt.Errorf("limiting tasks to %d: %w", spec.RlimitNproc, err)
	}
	if err := chdir(spec.Dir); err != nil {
		return err
	}
	// Last: this program allocates next to nothing from here to the exec.
	if err := setRlimit(unix.RLIMIT_AS, spec.RlimitAS); err != nil {
		return fmt.Errorf("limiting memory to %d bytes: %w", spec.RlimitAS, err)
	}
	return nil
}

// chdir enters the work dir, as the service's user.
func chdir(dir string) error {
	if dir == "" {
		dir = "/"
	}
	if err := syscall.Chdir(dir); err != nil {
		return fmt.Errorf("entering work dir %s: %w", dir, err)
	}
	return nil
}

// become takes the spec's user and groups, in the order fork/exec does:
// groups, group, user.
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
	return nil
}
