package launch

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/runtime/imagespec"
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

	// Caps are the capabilities the service keeps (numbers), as ambient
	// capabilities; every other one leaves every set.
	Caps []int `json:"caps,omitempty"`
	// AllowSetuid leaves out no_new_privs and nosuid on the root, so the
	// image's setuid programs work (still within Caps' bounding set).
	AllowSetuid bool `json:"allowSetuid,omitempty"`
	// Network is imagespec.NetworkPrivate (loopback up), NetworkNone
	// (loopback down) or NetworkHost (the host's namespace); New unshares
	// the namespace for the first two.
	Network string `json:"network,omitempty"`
	// Seccomp are the additions to the default filter.
	Seccomp []string `json:"seccomp,omitempty"`
	// TmpSize, RunSize and ShmSize size the tmpfs on /tmp, /run and
	// /dev/shm (bytes; 0 is the kernel's default, half the RAM).
	TmpSize int64 `json:"tmpSize,omitempty"`
	RunSize int64 `json:"runSize,omitempty"`
	ShmSize int64 `json:"shmSize,omitempty"`
	// Binds are host directories mounted writable on directories of the
	// image (read_write_paths).
	Binds []Bind `json:"binds,omitempty"`
	// RlimitAS and RlimitNproc, when not 0, are set as both soft and hard
	// limits (the rlimit fallback of memory_max and tasks_max).
	RlimitAS    uint64 `json:"rlimitAS,omitempty"`
	RlimitNproc uint64 `json:"rlimitNproc,omitempty"`
	// KeepFDs are the descriptors above stderr the service gets (its
	// notification fd); every other one is closed at exec.
	KeepFDs []int `json:"keepFDs,omitempty"`
	// Legacy turns the hardening of issue 13 off (namespaces beyond mount
	// and PID, seccomp, capability and fd cleanup): the launcher of before,
	// kept only as the benchmark's baseline. Never set by the node.
	Legacy bool `json:"legacy,omitempty"`
}

// Bind is a host directory mounted on a directory of the image.
type Bind struct {
	Source string `json:"source"` // absolute host path
	Target string `json:"target"` // absolute path in the image
	// ReadOnly mounts it read-only (the node's writable /etc, which
	// services read and only the node writes).
	ReadOnly bool `json:"readOnly,omitempty"`
}

// Cred is a user, its primary group and supplementary groups.
type Cred struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups"`
}

// Launcher is the supervisor's side of one launcher process.
type Launcher struct {
	// Path, Args and Attr start the launcher: os.StartProcess(Path, Args, Attr).
	Path string
	Args []string
	Attr *os.ProcAttr

	spec  Spec
	ctlR  *os.File // the launcher's end of the control pipe
	ctlW  *os.File
	statW *os.File // the launcher's end of the status pipe
	statR *os.File
}

// New prepares a launcher for spec. files are the service's descriptors
// by number (nil: closed); the control and status pipes follow them, and
// are closed when the launcher execs the service.
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
	all := append(append([]*os.File(nil), files...), ctlR, statW)
	n := len(files)
	return &Launcher{
		Path: exe,
		Args: []string{"undistro-init", Arg, strconv.Itoa(n), strconv.Itoa(n + 1), spec.Name},
		Attr: &os.ProcAttr{
			// The launcher lives only until it execs the service; the
			// service gets spec.Env.
			Env:   []string{"GOMAXPROCS=1"},
			Files: all,
			Sys: &syscall.SysProcAttr{
				Setpgid:    true,
				Cloneflags: cloneFlags(spec),
			},
		},
		spec:  spec,
		ctlR:  ctlR,
		ctlW:  ctlW,
		statW: statW,
		statR: statR,
	}, nil
}

// cloneFlags are the namespaces the launcher starts in: mount, PID, IPC
// and UTS always, network unless the service takes the host's.
func cloneFlags(spec Spec) uintptr {
	f := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID)
	if spec.Legacy {
		return f
	}
	f |= syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	if spec.Network != imagespec.NetworkHost {
		f |= syscall.CLONE_NEWNET
	}
	return f
}

// Abort releases the pipes of a launcher that could not be started.
func (l *Launcher) Abort() {
	l.ctlR.Close()
	l.ctlW.Close()
	l.statW.Close()
	l.statR.Close()
}

// Started sends the spec to the launcher just started and waits until it
// has exec'd the service (nil: the status pipe, close-on-exec, reached EOF
// after "exec") or failed to (the launcher's error; it then exits, and the
// caller still waits for it). Once it returns nil, the launcher's process
// is the service's.
func (l *Launcher) Started() error {
	l.ctlR.Close()
	l.statW.Close()
	defer l.statR.Close()
	b, err := json.Marshal(l.spec)
	if err == nil {
		_, err = l.ctlW.Write(append(b, '\n'))
	}
	l.ctlW.Close()
	if err != nil {
		return fmt.Errorf("sending launch spec: %w", err)
	}
	return readStatus(l.statR)
}

// readStatus reads the launcher's reports until EOF: nil when it said
// "exec" and nothing after (the exec closed the pipe), its error when it
// reported one.
func readStatus(r *os.File) error {
	br := bufio.NewReader(r)
	execd := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "exec":
			execd = true
		case strings.HasPrefix(line, "error "):
			return errors.New(strings.TrimPrefix(line, "error "))
		default:
			return fmt.Errorf("launcher said %q", line)
		}
	}
	if !execd {
		return errors.New("launcher exited before starting the service")
	}
	return nil
}

// Confinement is what a command started by StartConfined shares with a
// sandboxed service.
type Confinement struct {
	// PID is the service's process: with Namespaces, the command joins
	// its network, IPC and UTS namespaces.
	PID        int
	Namespaces bool
	// Caps are the capabilities left in the bounding set (the service's
	// grants); with Legacy, only the nine of old leave it.
	Caps   []int
	Legacy bool
}

// StartConfined starts cmd from a thread confined as c says: in the
// service's namespaces, with the bounding set trimmed and no_new_privs
// set, so cmd cannot hold more than the service even as root. The thread
// is discarded afterwards. No seccomp filter: cmd's own start chroots.
func StartConfined(cmd *exec.Cmd, c Confinement) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, confined, ends with this goroutine
		// instead of running other goroutines.
		runtime.LockOSThread()
		if err := confineThread(c); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

func confineThread(c Confinement) error {
	if c.Legacy {
		return dropCapabilities()
	}
	if c.Namespaces {
		for _, ns := range []struct {
			name string
			flag int
		}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}} {
			if err := setns(c.PID, ns.name, ns.flag); err != nil {
				return err
			}
		}
	}
	for cp := 0; cp <= lastCap; cp++ {
		if slices.Contains(c.Caps, cp) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				break
			}
			return fmt.Errorf("dropping capability %d: %w", cp, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}

// setns moves the calling thread into namespace name of process pid.
func setns(pid int, name string, flag int) error {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/" + name)
	if err != nil {
		return fmt.Errorf("opening the service's %s namespace: %w", name, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), flag); err != nil {
		return fmt.Errorf("joining the service's %s namespace: %w", name, err)
	}
	return nil
}
