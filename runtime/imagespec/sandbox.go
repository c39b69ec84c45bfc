package imagespec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Network namespaces a service may ask for.
const (
	// NetworkPrivate (the default): a network namespace of its own with
	// only loopback up. The service reaches nothing on the host and the
	// host reaches only the ports it publishes (Sandbox.Publish); a
	// readiness check over tcp or http dials into that namespace.
	NetworkPrivate = "private"
	// NetworkHost: the host's network namespace, for a service that
	// listens where the host (or the world) connects.
	NetworkHost = "host"
	// NetworkNone: a network namespace of its own with loopback down.
	NetworkNone = "none"
)

// Networks are the valid values of Sandbox.Network.
var Networks = []string{NetworkPrivate, NetworkHost, NetworkNone}

// Default tmpfs sizes when a service sets none.
const (
	DefaultTmpSize = 64 << 20
	DefaultRunSize = 16 << 20
	DefaultShmSize = 16 << 20
)

// Sandbox is what one service may touch beyond the defaults. Its zero
// value grants nothing: no capability, no setuid, a private network
// namespace with loopback only, the default seccomp filter, no limits
// beyond the defaults, nothing writable but the tmpfs /tmp, /run and
// /dev/shm (noexec).
type Sandbox struct {
	// Capabilities are granted as ambient capabilities (so a non-root
	// service holds them too), lower-case names without "cap_":
	// "net_bind_service". Every other capability is gone from every set.
	Capabilities []string `json:"capabilities,omitempty"`
	// AllowSetuid lets the service exec setuid/setgid programs (the
	// image's privileged paths): no no_new_privs, no nosuid on the root.
	AllowSetuid bool `json:"allowSetuid,omitempty"`
	// Network is NetworkPrivate (""), NetworkHost or NetworkNone.
	Network string `json:"network,omitempty"`
	// Publish are host addresses ("127.0.0.1:8080", "0.0.0.0:80") the
	// supervisor listens on and forwards, connection by connection, to
	// the same port on the loopback of the service's private network
	// namespace (NetworkPrivate only). The service sees connections from
	// 127.0.0.1.
	Publish []string `json:"publish,omitempty"`
	// Seccomp takes groups ("@clock") or system calls back from the
	// default filter.
	Seccomp []string `json:"seccomp,omitempty"`
	// MemoryMax (bytes), TasksMax, CPUWeight and IOWeight (1-10000) are
	// limits; 0 is none (the kernel's default weight, 100).
	MemoryMax int64 `json:"memoryMax,omitempty"`
	TasksMax  int   `json:"tasksMax,omitempty"`
	CPUWeight int   `json:"cpuWeight,omitempty"`
	IOWeight  int   `json:"ioWeight,omitempty"`
	// TmpSize and RunSize size the tmpfs on /tmp and /run (bytes; 0:
	// DefaultTmpSize, DefaultRunSize).
	TmpSize int64 `json:"tmpSize,omitempty"`
	RunSize int64 `json:"runSize,omitempty"`
	// ReadWritePaths are directories of the image bind-mounted writable
	// from the node's ROOT/state/SERVICE, owned by the service's user.
	ReadWritePaths []string `json:"readWritePaths,omitempty"`
}

// NetworkOrDefault returns the network the service gets.
func (s Sandbox) NetworkOrDefault() string {
	if s.Network == "" {
		return NetworkPrivate
	}
	return s.Network
}

// capabilities maps capability names to their numbers (linux/capability.h).
var capabilities = map[string]int{
	"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "fsetid": 4, "kill": 5,
	"setgid": 6, "setuid": 7, "setpcap": 8, "linux_immutable": 9, "net_bind_service": 10,
	"net_broadcast": 11, "net_admin": 12, "net_raw": 13, "ipc_lock": 14, "ipc_owner": 15,
	"sys_module": 16, "sys_rawio": 17, "sys_chroot": 18, "sys_ptrace": 19, "sys_pacct": 20,
	"sys_admin": 21, "sys_boot": 22, "sys_nice": 23, "sys_resource": 24, "sys_time": 25,
	"sys_tty_config": 26, "mknod": 27, "lease": 28, "audit_write": 29, "audit_control": 30,
	"setfcap": 31, "mac_override": 32, "mac_admin": 33, "syslog": 34, "wake_alarm": 35,
	"block_suspend": 36, "audit_read": 37, "perfmon": 38, "bpf": 39, "checkpoint_restore": 40,
}

// Capability returns the number of the capability name ("net_raw").
func Capability(name string) (int, bool) {
	n, ok := capabilities[name]
	return n, ok
}

// CapabilityNames returns every capability name, sorted.
func CapabilityNames() []string { return slices.Sorted(maps.Keys(capabilities)) }

// Asks lists what s grants beyond the defaults, one "key=value" each in a
// fixed order (none: the defaults), for a reviewer reading an image's
// inspect output or its diff.
func (s Sandbox) Asks() []string {
	var out []string
	add := func(ok bool, format string, a ...any) {
		if ok {
			out = append(out, fmt.Sprintf(format, a...))
		}
	}
	add(len(s.Capabilities) > 0, "capabilities=%s", strings.Join(s.Capabilities, ","))
	add(s.AllowSetuid, "allow_setuid")
	add(s.Network != "" && s.Network != NetworkPrivate, "network=%s", s.Network)
	add(len(s.Publish) > 0, "publish=%s", strings.Join(s.Publish, ","))
	add(len(s.Seccomp) > 0, "seccomp+=%s", strings.Join(s.Seccomp, ","))
	add(s.MemoryMax > 0, "memory_max=%d", s.MemoryMax)
	add(s.TasksMax > 0, "tasks_max=%d", s.TasksMax)
	add(s.CPUWeight > 0, "cpu_weight=%d", s.CPUWeight)
	add(s.IOWeight > 0, "io_weight=%d", s.IOWeight)
	add(s.TmpSize > 0, "tmp_size=%d", s.TmpSize)
	add(s.RunSize > 0, "run_size=%d", s.RunSize)
	add(len(s.ReadWritePaths) > 0, "read_write_paths=%s", strings.Join(s.ReadWritePaths, ","))
	return out
}
