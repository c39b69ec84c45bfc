package sandbox

import (
	"runtime"

	"github.com/un-distro/undistro/internal/seccomp"
)

// The network namespace cuts TCP/UDP and abstract unix sockets, but not unix
// sockets bound to paths on the (read-only) host file system: connect()
// works on a read-only mount. A build could reach a local daemon that way
// (a database, a container engine). The sandbox therefore mounts a tmpfs on
// /run and installs a seccomp filter that refuses socket(AF_UNIX, …) with
// EACCES. socketpair(2), which needs no path, still works, as do pipes. The
// filter also refuses foreign-ABI system calls (i386 and x32 on amd64),
// which could otherwise bypass it. The filter is assembled by
// internal/seccomp, the one home of undistro's BPF.

// seccompFilter returns the compiled filter (struct sock_filter[] as bytes)
// for goarch, or nil for an architecture internal/seccomp has no system
// call table for (the build then runs without it).
func seccompFilter(goarch string) []byte {
	if goarch != runtime.GOARCH {
		return nil
	}
	prog, err := seccomp.NoUnixSockets()
	if err != nil {
		return nil
	}
	return seccomp.Bytes(prog)
}
