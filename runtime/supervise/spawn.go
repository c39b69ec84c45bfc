package supervise

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/supervise/internal/launch"
)

// defaultPath is the PATH services get when their environment sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// proc is one running service process.
type proc struct {
	p      *os.Process
	pid    int
	exited chan exitInfo // receives once, when the process has been reaped
	notify chan error    // receives once: nil when a line arrived on the notification fd; nil channel without one
	// sandboxed is set when p runs in a sandbox (Options.Chroot): p is
	// PID 1 of its own PID namespace, its root /proc/PID/root.
	sandboxed bool
	// sandbox is what the sandbox holds (nil unsandboxed); private is set
	// when p has a network namespace of its own.
	sandbox *SandboxStatus
	private bool
}

// exitInfo is how a process ended.
type exitInfo struct {
	code int    // exit code, -1 when killed by a signal
	desc string // "exit status 1", "signal: killed"
}

func (e exitInfo) ok() bool { return e.code == 0 }

// spawn starts spec's process in its own process group, its stdout and
// stderr copied to out, and (when spec has a notification fd) a pipe as
// that fd.
func (s *Supervisor) spawn(spec imagespec.Service, out io.Writer) (*proc, error) {
	env := serviceEnv(spec.Env)
	if s.o.Tag != "" {
		env = append(env, TagEnv+"="+s.o.Tag)
	}
	path, err := resolveExec(s.o.Root, spec.Exec[0], envPath(env))
	if err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	dir := spec.WorkDir
	if !s.o.Chroot && s.o.Root != "" {
		path = filepath.Join(s.o.Root, path)
		dir = filepath.Join(s.o.Root, dir)
	}
	if spec.User != "" && os.Geteuid() == 0 {
		cred, err := s.credential(spec.User)
		if err != nil {
			return nil, err
		}
		attr.Credential = cred
	}

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating output pipe: %w", err)
	}
	defer ow.Close()
	files := []*os.File{devnull, ow, ow}
	var nr, nw *os.File
	if spec.Ready != nil && spec.Ready.NotifyFD > 0 {
		nr, nw, err = os.Pipe()
		if err != nil {
			or.Close()
			return nil, fmt.Errorf("creating notification pipe: %w", err)
		}
		defer nw.Close()
		for len(files) <= spec.Ready.NotifyFD {
			files = append(files, nil)
		}
		files[spec.Ready.NotifyFD] = nw
	}

	closeReaders := func() {
		or.Close()
		if nr != nil {
			nr.Close()
		}
	}
	var l *launch.Launcher
	var sbst *SandboxStatus
	var cg *os.File
	argv0, argv, pattr := path, spec.Exec, &os.ProcAttr{Dir: dir, Env: env, Files: files, Sys: attr}
	if s.o.Chroot {
		if l, sbst, err = s.launcher(spec, path, env, attr.Credential, files); err != nil {
			closeReaders()
			return nil, err
		}
		argv0, argv, pattr = l.Path, l.Args, l.Attr
		if s.o.Cgroup != nil && !s.o.Unhardened {
			// The kernel starts the launcher in the service's group: no
			// moment outside it.
			if cg, err = s.o.Cgroup.serviceGroup(spec.Name, spec.Sandbox); err != nil {
				closeReaders()
				l.Abort()
				return nil, fmt.Errorf("service %q: %w", spec.Name, err)
			}
			defer cg.Close()
			pattr.Sys.UseCgroupFD, pattr.Sys.CgroupFD = true, int(cg.Fd())
		}
	}
	ooms := 0
	if cg != nil {
		ooms = s.o.Cgroup.ooms(spec.Name)
	}
	var watch *oomWatch
	if sbst != nil && sbst.MemoryMax != nil {
		watch = &oomWatch{}
		out = io.MultiWriter(out, watch)
	}
	p, err := startTracked(argv0, argv, pattr)
	if err != nil {
		closeReaders()
		if l != nil {
			l.Abort()
		}
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}

	pr := &proc{p: p, pid: p.Pid, exited: make(chan exitInfo, 1), sandboxed: l != nil, sandbox: sbst,
		private: sbst != nil && sbst.Network != imagespec.NetworkHost}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, or)
		or.Close()
		close(copied)
	}()
	if nr != nil {
		pr.notify = make(chan error, 1)
		go readNotify(nr, pr.notify)
	}
	var startErr error
	if l != nil {
		// Once it returns nil, the launcher has exec'd the service: p is
		// the service itself.
		startErr = l.Started()
	}
	go func() {
		st, err := p.Wait()
		reaper.mu.Lock()
		delete(reaper.tracked, p.Pid)
		reaper.mu.Unlock()
		// The exit is reported once the service's last output is in its
		// log (and seen by the OOM watch that explains the exit). A child
		// that outlives it (outside a PID namespace) may hold the pipe
		// open: it gets a short grace, not a wait.
		select {
		case <-copied:
		case <-time.After(outputGrace):
		}
		if err != nil {
			pr.exited <- exitInfo{code: -1, desc: err.Error()}
			return
		}
		desc := st.String()
		if !st.Success() {
			now := 0
			if cg != nil {
				now = s.o.Cgroup.ooms(spec.Name)
			}
			desc += exitReason(sbst, now-ooms, watch)
		}
		pr.exited <- exitInfo{code: st.ExitCode(), desc: desc}
	}()
	if startErr != nil {
		<-pr.exited
		return nil, fmt.Errorf("starting %s: %w", path, startErr)
	}
	return pr, nil
}

// outputGrace is how long an exit waits for the service's output pipe to
// drain into its log when something else still holds the pipe open.
const outputGrace = time.Second

// startTracked starts a process the orphan reaper must leave alone.
func startTracked(path string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	p, err := os.StartProcess(path, argv, attr)
	if err == nil {
		reaper.tracked[p.Pid] = true
	}
	return p, err
}

// launcher prepares the sandbox launcher that sets up the sandbox in the
// image root and execs path as spec's service (see package launch), and
// says what the sandbox holds.
func (s *Supervisor) launcher(spec imagespec.Service, path string, env []string, cred *syscall.Credential, files []*os.File) (*launch.Launcher, *SandboxStatus, error) {
	root, err := filepath.EvalSymlinks(s.o.Root)
	if err == nil {
		root, err = filepath.Abs(root)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("resolving the image root: %w", err)
	}
	ls := launch.Spec{Name: spec.Name, Root: root, Path: path, Args: spec.Exec, Env: env, Dir: spec.WorkDir}
	if cred != nil {
		ls.Cred = &launch.Cred{UID: cred.Uid, GID: cred.Gid, Groups: cred.Groups}
	}
	if r := spec.Ready; r != nil && r.NotifyFD > 0 {
		ls.KeepFDs = []int{r.NotifyFD}
	}
	var st *SandboxStatus
	if s.o.Unhardened {
		ls.Legacy = true
	} else if st, err = s.sandboxSpec(spec.Name, spec.Sandbox, &ls, cred, spec.User); err != nil {
		return nil, nil, err
	}
	l, err := launch.New(ls, files)
	return l, st, err
}

// catchesSignal reports whether pid has a handler for sig, from the SigCgt
// mask of /proc/PID/status; false when that cannot be read.
func catchesSignal(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	return sigMaskHas(string(b), "SigCgt", sig)
}

// sigMaskHas reports whether the hex mask on status's "field:" line has
// sig's bit.
func sigMaskHas(status, field string, sig syscall.Signal) bool {
	for line := range strings.Lines(status) {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return err == nil && sig >= 1 && sig <= 64 && mask&(1<<(sig-1)) != 0
	}
	return false
}

// readNotify reports nil once a full line arrives on r, or an error if r
// closes first; it then drains r so the service never gets SIGPIPE.
func readNotify(r *os.File, ch chan<- error) {
	defer r.Close()
	br := bufio.NewReader(r)
	if _, err := br.ReadString('\n'); err != nil {
		ch <- errors.New("notification fd closed before a line was written")
		return
	}
	ch <- nil
	_, _ = io.Copy(io.Discard, br)
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

// serviceEnv returns env with a default PATH added when it has none.
func serviceEnv(env []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range out {
		if strings.HasPrefix(kv, "PATH=") {
			return out
		}
	}
	return append(out, "PATH="+defaultPath)
}

func envPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

// resolveExec returns the path, as seen inside root, of the program name:
// name itself when it holds a slash, else the first PATH entry under root
// holding an executable file of that name.
func resolveExec(root, name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 || (fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0) {
			return p, nil
		}
	}
	where := "PATH " + path
	if root != "" {
		where += " under " + root
	}
	return "", fmt.Errorf("resolving %q: not found in %s: use an absolute path in the service's exec", name, where)
}

// credential resolves user ("name", "uid" or "uid:gid") against the
// image's users and groups.
func (s *Supervisor) credential(user string) (*syscall.Credential, error) {
	s.mu.Lock()
	users, groups := s.o.Users, s.o.Groups
	s.mu.Unlock()
	for _, u := range users {
		if u.Name != user {
			continue
		}
		c := &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}
		for _, gname := range u.Groups {
			found := false
			for _, g := range groups {
				if g.Name == gname {
					c.Groups = append(c.Groups, uint32(g.GID))
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("resolving user %q: group %q is not declared by the image", user, gname)
			}
		}
		if c.Groups == nil {
			c.Groups = []uint32{}
		}
		return c, nil
	}
	uidS, gidS, hasGID := strings.Cut(user, ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("resolving user %q: not declared by the image and not numeric: declare it in the role's users", user)
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(gidS, 10, 32); err != nil {
			return nil, fmt.Errorf("resolving user %q: group %q is not numeric", user, gidS)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}
