package launch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// forwarded are the signals the launcher passes on to the service's
// process group.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// Main runs the launcher and exits when os.Args[1] is Arg; otherwise it
// returns at once. Call it first thing in main.
func Main() {
	if len(os.Args) < 4 || os.Args[1] != Arg {
		return
	}
	os.Exit(launcher(os.Args[2], os.Args[3]))
}

// launcher is the launcher's life; it returns its exit code.
func launcher(ctlArg, statArg string) int {
	// Every process is started from this thread, whose capability
	// bounding set is trimmed (see dropCapabilities).
	runtime.LockOSThread()
	ctlFD, err1 := strconv.Atoi(ctlArg)
	statFD, err2 := strconv.Atoi(statArg)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "undistro-init: bad descriptors %q %q\n", ctlArg, statArg)
		return 2
	}
	unix.CloseOnExec(ctlFD)
	unix.CloseOnExec(statFD)
	status := os.NewFile(uintptr(statFD), "status")
	report := func(format string, a ...any) {
		_, _ = fmt.Fprintf(status, format+"\n", a...)
	}
	// Signals are caught before the service exists, so none is lost.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGCHLD}, forwarded...)...)

	ctl := bufio.NewReader(os.NewFile(uintptr(ctlFD), "control"))
	var spec Spec
	line, err := ctl.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &spec)
	}
	if err != nil {
		report("error reading the launch spec: %v", err)
		return 1
	}
	spans := exeSpans()
	devnull, err := sandbox(spec.Root)
	if err == nil {
		err = dropCapabilities()
	}
	if err != nil {
		report("error sandboxing %s: %v", spec.Root, err)
		return 1
	}
	pid, err := spec.start(spec.Path, spec.Args, spec.fds())
	if err != nil {
		report("error %v", err)
		return 1
	}
	report("started %d", pid)
	trim(spans)

	reqs := make(chan checkRequest)
	go readRequests(ctl, reqs)
	checks := map[int]*runningCheck{} // by pid
	checkFds := []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()}
	for {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGCHLD {
				if err := syscall.Kill(-pid, sig.(syscall.Signal)); err == syscall.ESRCH {
					_ = syscall.Kill(pid, sig.(syscall.Signal)) // it left its group
				}
				continue
			}
			for {
				var ws unix.WaitStatus
				wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if wpid <= 0 || err != nil {
					break
				}
				if wpid == pid {
					res, code := result(ws)
					report("%s", res)
					return code
				}
				if c := checks[wpid]; c != nil {
					c.timer.Stop()
					res, _ := result(ws)
					report("check %d %s", c.id, res)
					delete(checks, wpid)
				}
			}
		case r, ok := <-reqs:
			if !ok {
				reqs = nil // the supervisor closed the control pipe
				continue
			}
			cpid, err := spec.start(r.Path, r.Args, checkFds)
			if err != nil {
				report("check %d error starting check: %v", r.ID, err)
				continue
			}
			checks[cpid] = &runningCheck{id: r.ID, timer: time.AfterFunc(r.Timeout, func() {
				_ = syscall.Kill(-cpid, syscall.SIGKILL)
			})}
		}
	}
}

// runningCheck is a readiness command the launcher runs.
type runningCheck struct {
	id    int
	timer *time.Timer
}

// readRequests decodes check requests from the control pipe until it
// closes.
func readRequests(r *bufio.Reader, out chan<- checkRequest) {
	defer close(out)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return // EOF: the supervisor is done with this service
		}
		var req checkRequest
		if json.Unmarshal(line, &req) == nil && len(req.Args) > 0 {
			out <- req
		}
	}
}

// fds returns the descriptor table the service gets: the launcher's own
// for the numbers in Fds, closed elsewhere.
func (s *Spec) fds() []uintptr {
	n := 0
	for _, fd := range s.Fds {
		n = max(n, fd+1)
	}
	out := make([]uintptr, n)
	for i := range out {
		out[i] = ^uintptr(0)
	}
	for _, fd := range s.Fds {
		out[fd] = uintptr(fd)
	}
	return out
}

// start starts path in its own process group, as the spec's user, with
// its environment and work dir, and returns its pid.
func (s *Spec) start(path string, args []string, files []uintptr) (int, error) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if c := s.Cred; c != nil {
		attr.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
		if attr.Credential.Groups == nil {
			attr.Credential.Groups = []uint32{}
		}
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	return syscall.ForkExec(path, args, &syscall.ProcAttr{Dir: dir, Env: s.Env, Files: files, Sys: attr})
}

// result reports ws as "exit N" or "signal N", with the launcher's own
// exit code for it.
func result(ws unix.WaitStatus) (string, int) {
	if ws.Signaled() {
		return fmt.Sprintf("signal %d", int(ws.Signal())), 128 + int(ws.Signal())
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus()), ws.ExitStatus()
}
