package supervise

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/un-distro/undistro/internal/seccomp"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/supervise/internal/launch"
)

// What enforces a limit, in SandboxStatus.
const (
	EnforcedByCgroup = "cgroup v2"
	EnforcedByRlimit = "rlimit"
	NotEnforced      = "not enforced"
)

// Limit is one resource limit of a service and what enforces it.
type Limit struct {
	Value int64 `json:"value"`
	// EnforcedBy is EnforcedByCgroup, EnforcedByRlimit or NotEnforced.
	EnforcedBy string `json:"enforcedBy"`
	// How names the file or rlimit, and any caveat.
	How string `json:"how"`
}

// SandboxStatus is the sandbox a service runs in, as `node status` shows
// it: what the image asked for with the node's defaults applied.
type SandboxStatus struct {
	User string `json:"user"`
	UID  uint32 `json:"uid"`
	// Capabilities it holds (ambient, permitted, effective, bounding);
	// empty: none.
	Capabilities []string `json:"capabilities"`
	NoNewPrivs   bool     `json:"noNewPrivs"`
	// Namespaces it has of its own (the others are the host's).
	Namespaces []string `json:"namespaces"`
	Network    string   `json:"network"`
	// Publish are the host addresses forwarded into a private network.
	Publish []string `json:"publish,omitempty"`
	// Seccomp is the filter: the default profile and any additions.
	Seccomp        string   `json:"seccomp"`
	TmpSize        int64    `json:"tmpSize"`
	RunSize        int64    `json:"runSize"`
	ReadWritePaths []string `json:"readWritePaths,omitempty"`
	MemoryMax      *Limit   `json:"memoryMax,omitempty"`
	TasksMax       *Limit   `json:"tasksMax,omitempty"`
	CPUWeight      *Limit   `json:"cpuWeight,omitempty"`
	IOWeight       *Limit   `json:"ioWeight,omitempty"`
}

// sandboxSpec fills the sandbox fields of ls from sb and says what the
// service gets; with a cgroup, the limits are left to it.
func (s *Supervisor) sandboxSpec(name string, sb imagespec.Sandbox, ls *launch.Spec, cred *syscall.Credential, user string) (*SandboxStatus, error) {
	caps, err := launch.CapNumbers(sb.Capabilities)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	if err := seccomp.Check(sb.Seccomp); err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	ls.Caps, ls.AllowSetuid, ls.Network, ls.Seccomp = caps, sb.AllowSetuid, sb.NetworkOrDefault(), sb.Seccomp
	ls.TmpSize, ls.RunSize, ls.ShmSize = orDefault(sb.TmpSize, imagespec.DefaultTmpSize), orDefault(sb.RunSize, imagespec.DefaultRunSize), imagespec.DefaultShmSize
	if !slices.Contains(imagespec.Networks, ls.Network) {
		return nil, fmt.Errorf("service %q: network %q: want one of %s", name, sb.Network, strings.Join(imagespec.Networks, ", "))
	}
	st := &SandboxStatus{
		User: user, Capabilities: slices.Clone(sb.Capabilities), NoNewPrivs: !sb.AllowSetuid,
		Namespaces: []string{"mount", "pid", "ipc", "uts"}, Network: ls.Network, Publish: sb.Publish,
		Seccomp: seccomp.DefaultProfile, TmpSize: ls.TmpSize, RunSize: ls.RunSize,
		ReadWritePaths: sb.ReadWritePaths,
	}
	if st.User == "" {
		st.User = "root"
	}
	if st.Capabilities == nil {
		st.Capabilities = []string{}
	}
	if cred != nil {
		st.UID = cred.Uid
	}
	if ls.Network != imagespec.NetworkHost {
		st.Namespaces = append(st.Namespaces, "net")
	}
	if len(sb.Seccomp) > 0 {
		st.Seccomp += " +" + strings.Join(sb.Seccomp, " +")
	}
	if s.o.Etc != nil {
		if etc := s.o.Etc(); etc != "" {
			if fi, err := os.Lstat(filepath.Join(s.o.Root, "etc")); err == nil && fi.IsDir() {
				ls.Binds = append(ls.Binds, launch.Bind{Source: etc, Target: "/etc", ReadOnly: true})
			}
		}
	}
	for _, p := range sb.ReadWritePaths {
		b, err := s.stateDir(name, p, cred)
		if err != nil {
			return nil, err
		}
		ls.Binds = append(ls.Binds, b)
	}
	if s.o.Cgroup != nil {
		how := func(file string) *Limit { return &Limit{EnforcedBy: EnforcedByCgroup, How: file} }
		if sb.MemoryMax > 0 {
			st.MemoryMax = how("memory.max")
		}
		if sb.TasksMax > 0 {
			st.TasksMax = how("pids.max")
		}
		if sb.CPUWeight > 0 {
			st.CPUWeight = how("cpu.weight")
		}
		if sb.IOWeight > 0 {
			st.IOWeight = how("io.weight")
		}
	} else {
		if sb.MemoryMax > 0 {
			ls.RlimitAS = uint64(sb.MemoryMax)
			st.MemoryMax = &Limit{EnforcedBy: EnforcedByRlimit, How: "RLIMIT_AS: address space, not resident memory; an allocation past it fails"}
		}
		if sb.TasksMax > 0 {
			ls.RlimitNproc = uint64(sb.TasksMax)
			st.TasksMax = &Limit{EnforcedBy: EnforcedByRlimit, How: "RLIMIT_NPROC: counts every process of the service's uid on the host, so it holds for a dedicated uid"}
			if st.UID == 0 {
				st.TasksMax = &Limit{EnforcedBy: NotEnforced, How: "RLIMIT_NPROC does not apply to root and there is no cgroup v2 subtree: give the service a dedicated user"}
			}
		}
		if sb.CPUWeight > 0 {
			st.CPUWeight = &Limit{EnforcedBy: NotEnforced, How: "needs a cgroup v2 subtree"}
		}
		if sb.IOWeight > 0 {
			st.IOWeight = &Limit{EnforcedBy: NotEnforced, How: "needs a cgroup v2 subtree"}
		}
	}
	for _, l := range []struct {
		l *Limit
		v int64
	}{{st.MemoryMax, sb.MemoryMax}, {st.TasksMax, int64(sb.TasksMax)}, {st.CPUWeight, int64(sb.CPUWeight)}, {st.IOWeight, int64(sb.IOWeight)}} {
		if l.l != nil {
			l.l.Value = l.v
		}
	}
	return st, nil
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

// stateDir returns the bind of read-write path p of service name: the
// directory StateDir/NAME/p, created owned by the service's user.
func (s *Supervisor) stateDir(name, p string, cred *syscall.Credential) (launch.Bind, error) {
	if s.o.StateDir == "" {
		return launch.Bind{}, fmt.Errorf("service %q: read_write_paths %s: this supervisor has no state directory (Options.StateDir)", name, p)
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return launch.Bind{}, fmt.Errorf("service %q: read_write_paths %q: want an absolute, clean path", name, p)
	}
	dir := filepath.Join(s.o.StateDir, name, p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return launch.Bind{}, fmt.Errorf("service %q: creating state directory: %w", name, err)
	}
	if cred != nil {
		if err := os.Lchown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return launch.Bind{}, fmt.Errorf("service %q: owning state directory %s: %w", name, dir, err)
		}
	}
	return launch.Bind{Source: dir, Target: p}, nil
}

// oomWatch watches a service's output for an allocation failure: under
// the rlimit fallback nothing else tells the supervisor why a service
// that hit memory_max died.
type oomWatch struct {
	mu   sync.Mutex
	tail []byte
	seen atomic.Bool
}

var oomWords = [][]byte{[]byte("out of memory"), []byte("cannot allocate memory"), []byte("memory exhausted")}

func (w *oomWatch) Write(b []byte) (int, error) {
	if w.seen.Load() {
		return len(b), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, bytes.ToLower(b)...)
	for _, word := range oomWords {
		if bytes.Contains(w.tail, word) {
			w.seen.Store(true)
		}
	}
	if n := len(w.tail); n > 64 {
		w.tail = append(w.tail[:0], w.tail[n-64:]...)
	}
	return len(b), nil
}

// exitReason explains a failed exit of a service with sandbox st: the
// memory limit, when the kernel's OOM killer (cgroup) or an allocation
// failure in its output (rlimit) says it was hit.
func exitReason(st *SandboxStatus, oomKills int, w *oomWatch) string {
	if st == nil || st.MemoryMax == nil {
		return ""
	}
	switch {
	case st.MemoryMax.EnforcedBy == EnforcedByCgroup && oomKills > 0:
		return fmt.Sprintf(" (killed by the kernel's OOM killer: memory_max %d bytes exceeded, cgroup v2 memory.max)", st.MemoryMax.Value)
	case st.MemoryMax.EnforcedBy == EnforcedByRlimit && w != nil && w.seen.Load():
		return fmt.Sprintf(" (out of memory: an allocation failed at memory_max %d bytes, enforced by RLIMIT_AS)", st.MemoryMax.Value)
	}
	return ""
}
