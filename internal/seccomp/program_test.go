//go:build amd64 || arm64

package seccomp

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// run interprets prog, as the kernel does, on the seccomp_data of a
// call: nr on arch with arg0 as first argument. It knows the opcodes the
// filters here use and fails the test on any other.
func run(t *testing.T, prog []unix.SockFilter, arch, nr, arg0 uint32) uint32 {
	t.Helper()
	data := make([]byte, 64) // struct seccomp_data
	binary.LittleEndian.PutUint32(data[offNr:], nr)
	binary.LittleEndian.PutUint32(data[offArch:], arch)
	binary.LittleEndian.PutUint32(data[offArg0:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case bpfLdWAbs:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case bpfJeqK:
			jump(acc == in.K)
		case bpfJgeK:
			jump(acc >= in.K)
		case bpfJsetK:
			jump(acc&in.K != 0)
		case bpfRetK:
			return in.K
		default:
			t.Fatalf("pc %d: opcode %#x not interpreted", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

// verdict names a filter's return value.
func verdict(ret uint32) string {
	switch {
	case ret == retAllow:
		return "allow"
	case ret&0xffff0000 == retErrno:
		return unix.Errno(ret & 0xffff).Error()
	}
	return fmt.Sprintf("%#x", ret)
}

// foreignArch is AUDIT_ARCH_I386: a 32-bit call on a 64-bit kernel.
const foreignArch = 0x40000003

// TestProgram checks, call by call, what the filters answer: the refused
// groups with EPERM, namespace flags of clone and unshare, the native
// architecture only (x32 on amd64 included), and the additions.
func TestProgram(t *testing.T) {
	def, err := Filter(nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := Filter([]string{"@namespaces", "keyctl"})
	if err != nil {
		t.Fatal(err)
	}
	unixSock, err := NoUnixSockets()
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		name           string
		prog           []unix.SockFilter
		arch, nr, arg0 uint32
		want           string
	}
	tests := []call{
		{"getpid", def, auditArch, unix.SYS_GETPID, 0, "allow"},
		{"foreign architecture", def, foreignArch, unix.SYS_GETPID, 0, "function not implemented"},
		{"clone of a thread", def, auditArch, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_THREAD, "allow"},
		{"clone into a user namespace", def, auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER, "operation not permitted"},
		{"unshare files", def, auditArch, unix.SYS_UNSHARE, unix.CLONE_FILES, "allow"},
		{"unshare net", def, auditArch, unix.SYS_UNSHARE, unix.CLONE_NEWNET, "operation not permitted"},
		{"unshare time", def, auditArch, unix.SYS_UNSHARE, unix.CLONE_NEWTIME, "operation not permitted"},
		{"clone3 (flags unreadable)", def, auditArch, unix.SYS_CLONE3, 0, "function not implemented"},
		{"namespaces back: clone into a user namespace", ns, auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER, "allow"},
		{"namespaces back: setns", ns, auditArch, unix.SYS_SETNS, 0, "allow"},
		{"keyctl back", ns, auditArch, unix.SYS_KEYCTL, 0, "allow"},
		{"keyctl back, add_key not", ns, auditArch, unix.SYS_ADD_KEY, 0, "operation not permitted"},
		{"additions: still native only", ns, foreignArch, unix.SYS_GETPID, 0, "function not implemented"},
		{"build: unix socket", unixSock, auditArch, unix.SYS_SOCKET, unix.AF_UNIX, "permission denied"},
		{"build: inet socket", unixSock, auditArch, unix.SYS_SOCKET, unix.AF_INET, "allow"},
		{"build: foreign architecture", unixSock, foreignArch, unix.SYS_SOCKET, unix.AF_INET, "function not implemented"},
	}
	if x32 {
		tests = append(tests,
			call{"x32 call", def, auditArch, x32Bit | unix.SYS_GETPID, 0, "function not implemented"},
			call{"build: x32 call", unixSock, auditArch, x32Bit | unix.SYS_SOCKET, unix.AF_INET, "function not implemented"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := verdict(run(t, tc.prog, tc.arch, tc.nr, tc.arg0)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// Every refused call of every group, but the two flag-checked above.
	for _, name := range Refused() {
		nr, ok := syscalls[name]
		if !ok || name == "unshare" || name == "clone3" {
			continue
		}
		if got := verdict(run(t, def, auditArch, nr, 0)); got != "operation not permitted" {
			t.Errorf("%s (%d): got %s, want operation not permitted", name, nr, got)
		}
	}
}
