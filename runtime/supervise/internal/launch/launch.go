package launch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Arg is the argument (os.Args[1]) that makes the program a launcher.
const Arg = "__launch"

// exe is the program re-executed as the launcher.
const exe = "/proc/self/exe"

// Spec is what a launcher runs.
type Spec struct {
	// Name names the service, in the launcher's command line.
	Name string `json:"name"`
	// Root is the image root, an absolute host path with no symlinks.
	Root string `json:"root"`
	// Path is the program as seen inside Root; Args its argv.
	Path string   `json:"path"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
	// Dir is the work dir inside Root ("" is /).
	Dir string `json:"dir,omitempty"`
	// Cred is the user to run as; nil keeps root.
	Cred *Cred `json:"cred,omitempty"`
	// Fds are the descriptors passed on to the service, by number: the
	// launcher's own, which the supervisor set up (stdin, stdout, stderr,
	// a notification fd). Others are closed.
	Fds []int `json:"fds"`
}

// Cred is a user, its primary group and supplementary groups.
type Cred struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups"`
}

// checkRequest asks the launcher to run a readiness command.
type checkRequest struct {
	ID      int           `json:"id"`
	Path    string        `json:"path"`
	Args    []string      `json:"args"`
	Timeout time.Duration `json:"timeout"`
}

// Launcher is the supervisor's side of one launcher process.
type Launcher struct {
	// Path, Args and Attr start the launcher: os.StartProcess(Path, Args, Attr).
	Path string
	Args []string
	Attr *os.ProcAttr

	spec   Spec
	ctlR   *os.File // the launcher's end of the control pipe
	statW  *os.File // the launcher's end of the status pipe
	statR  *os.File
	ctlMu  sync.Mutex
	ctl    *os.File // nil once closed
	nextID int

	started chan string   // the first report: "started PID" or "error TEXT"
	done    chan struct{} // closed when the status pipe reaches EOF
	mu      sync.Mutex
	checks  map[int]chan error
	final   string // "exit N" or "signal N"
}

// New prepares a launcher for spec. files are the service's descriptors
// by number (nil: closed); the control and status pipes follow them.
func New(spec Spec, files []*os.File) (*Launcher, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating control pipe: %w", err)
	}
	statR, statW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("creating status pipe: %w", err)
	}
	spec.Fds = spec.Fds[:0:0]
	for i, f := range files {
		if f != nil {
			spec.Fds = append(spec.Fds, i)
		}
	}
	all := append(append([]*os.File(nil), files...), ctlR, statW)
	n := len(files)
	return &Launcher{
		Path: exe,
		Args: []string{"undistro-init", Arg, strconv.Itoa(n), strconv.Itoa(n + 1), spec.Name},
		Attr: &os.ProcAttr{
			// One P is plenty for an init that waits; it keeps threads
			// and memory down.
			Env:   []string{"GOMAXPROCS=1"},
			Files: all,
			Sys: &syscall.SysProcAttr{
				Setpgid:    true,
				Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
			},
		},
		spec:    spec,
		ctlR:    ctlR,
		statW:   statW,
		statR:   statR,
		ctl:     ctlW,
		started: make(chan string, 1),
		done:    make(chan struct{}),
		checks:  map[int]chan error{},
	}, nil
}

// Abort releases the pipes of a launcher that could not be started.
func (l *Launcher) Abort() {
	l.ctlR.Close()
	l.statW.Close()
	l.statR.Close()
	l.closeCtl()
}

// Started sends the spec to the launcher just started and waits until it
// has started the service (nil) or failed to (the launcher's error; it
// then exits, and the caller still waits for it).
func (l *Launcher) Started() error {
	l.ctlR.Close()
	l.statW.Close()
	go l.readStatus()
	b, err := json.Marshal(l.spec)
	if err != nil {
		return fmt.Errorf("encoding launch spec: %w", err)
	}
	l.ctlMu.Lock()
	_, err = l.ctl.Write(append(b, '\n'))
	l.ctlMu.Unlock()
	if err != nil {
		return fmt.Errorf("sending launch spec: %w", err)
	}
	first, ok := <-l.started
	switch {
	case !ok:
		return errors.New("launcher exited before starting the service")
	case strings.HasPrefix(first, "started "):
		return nil
	case strings.HasPrefix(first, "error "):
		return errors.New(strings.TrimPrefix(first, "error "))
	}
	return fmt.Errorf("launcher said %q", first)
}

// readStatus dispatches the launcher's reports until the status pipe
// closes, which happens when the launcher has exited.
func (l *Launcher) readStatus() {
	defer close(l.done)
	defer l.statR.Close()
	br := bufio.NewReader(l.statR)
	first := true
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		if first {
			first = false
			l.started <- line
			continue
		}
		if rest, ok := strings.CutPrefix(line, "check "); ok {
			l.checkDone(rest)
			continue
		}
		l.mu.Lock()
		l.final = line
		l.mu.Unlock()
	}
	close(l.started)
	l.mu.Lock()
	for id, ch := range l.checks {
		ch <- errors.New("launcher exited")
		delete(l.checks, id)
	}
	l.mu.Unlock()
}

// checkDone delivers "ID RESULT" to the waiting Check.
func (l *Launcher) checkDone(rest string) {
	idS, res, _ := strings.Cut(rest, " ")
	id, _ := strconv.Atoi(idS)
	l.mu.Lock()
	ch := l.checks[id]
	delete(l.checks, id)
	l.mu.Unlock()
	if ch == nil {
		return // its Check gave up waiting
	}
	switch {
	case res == "exit 0":
		ch <- nil
	case strings.HasPrefix(res, "error "):
		ch <- errors.New(strings.TrimPrefix(res, "error "))
	default:
		ch <- errors.New(describe(res))
	}
}

// Check runs path with args inside the service's namespaces, as its user,
// with its environment and work dir, and returns nil when it exits 0. The
// launcher kills it when ctx's deadline passes.
func (l *Launcher) Check(ctx context.Context, path string, args []string) error {
	req := checkRequest{Path: path, Args: args, Timeout: time.Minute}
	if d, ok := ctx.Deadline(); ok {
		req.Timeout = max(time.Until(d), time.Millisecond)
	}
	ch := make(chan error, 1)
	l.ctlMu.Lock()
	l.nextID++
	req.ID = l.nextID
	l.mu.Lock()
	l.checks[req.ID] = ch
	l.mu.Unlock()
	b, _ := json.Marshal(req)
	var err error
	if l.ctl == nil {
		err = os.ErrClosed
	} else {
		_, err = l.ctl.Write(append(b, '\n'))
	}
	l.ctlMu.Unlock()
	if err != nil {
		l.mu.Lock()
		delete(l.checks, req.ID)
		l.mu.Unlock()
		return fmt.Errorf("asking the launcher to run the check: %w", err)
	}
	select {
	case err := <-ch:
		return err
	case <-l.done:
		select {
		case err := <-ch: // answered just before the launcher exited
			return err
		default:
			return errors.New("launcher exited before the check finished")
		}
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.checks, req.ID)
		l.mu.Unlock()
		return errors.New("check did not finish in time")
	}
}

func (l *Launcher) closeCtl() {
	l.ctlMu.Lock()
	if l.ctl != nil {
		l.ctl.Close()
		l.ctl = nil
	}
	l.ctlMu.Unlock()
}

// Exit returns the service's exit code (-1 when killed by a signal) and its
// description ("exit status 1", "signal: terminated") once the launcher,
// whose own state is ps, has exited. When the launcher died without
// reporting (it was killed), its own state stands for the service's.
func (l *Launcher) Exit(ps *os.ProcessState) (int, string) {
	l.closeCtl()
	<-l.done
	l.mu.Lock()
	final := l.final
	l.mu.Unlock()
	kind, nS, _ := strings.Cut(final, " ")
	n, err := strconv.Atoi(nS)
	switch {
	case err != nil:
	case kind == "exit":
		return n, describe(final)
	case kind == "signal":
		return -1, describe(final)
	}
	return ps.ExitCode(), ps.String()
}

// describe turns "exit N" / "signal N" into os.ProcessState's wording.
func describe(res string) string {
	kind, nS, _ := strings.Cut(res, " ")
	n, err := strconv.Atoi(nS)
	switch {
	case err != nil:
		return res
	case kind == "exit":
		return "exit status " + nS
	case kind == "signal":
		return "signal: " + syscall.Signal(n).String()
	}
	return res
}
