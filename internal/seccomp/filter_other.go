//go:build !amd64 && !arm64

package seccomp

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

const auditArch, x32 = 0, false

var rawIO, obsolete []string

var syscalls = map[string]uint32{}

// Filter fails: there is no system call table for this architecture.
func Filter(additions []string) ([]unix.SockFilter, error) {
	return nil, fmt.Errorf("no seccomp filter for %s: services cannot be sandboxed on it", runtime.GOARCH)
}

// NoUnixSockets fails: see Filter.
func NoUnixSockets() ([]unix.SockFilter, error) {
	return nil, fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
}

// Bytes encodes prog as the kernel reads it.
func Bytes(prog []unix.SockFilter) []byte { return nil }

// Install fails: see Filter.
func Install(prog []unix.SockFilter) error {
	return fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
}
