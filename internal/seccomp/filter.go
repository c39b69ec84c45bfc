//go:build amd64 || arm64

package seccomp

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccomp_data offsets and BPF/seccomp constants (linux/filter.h,
// linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits of args[0] on little-endian machines

	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfJsetK  = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	retAllow = 0x7fff0000
	retErrno = 0x00050000

	x32Bit = 0x40000000
)

// insn is one classic BPF instruction; jt/jf are label names resolved by
// assemble.
type insn struct {
	code   uint16
	jt, jf string
	k      uint32
	label  string
}

// Filter returns the program (struct sock_filter[]) of the default filter
// with additions taken back.
func Filter(additions []string) ([]unix.SockFilter, error) {
	if err := Check(additions); err != nil {
		return nil, err
	}
	nrs, namespaces := deny(additions)
	prog := nativeOnly()
	if namespaces {
		prog = append(prog,
			insn{code: bpfJeqK, k: unix.SYS_CLONE3, jt: "enosys"},
			insn{code: bpfJeqK, k: unix.SYS_CLONE, jt: "flags"},
			insn{code: bpfJeqK, k: unix.SYS_UNSHARE, jt: "flags"},
		)
	}
	for _, nr := range nrs {
		prog = append(prog, insn{code: bpfJeqK, k: nr, jt: "deny"})
	}
	prog = append(prog, insn{code: bpfRetK, k: retAllow, label: "allow"})
	if namespaces {
		prog = append(prog,
			insn{code: bpfLdWAbs, k: offArg0, label: "flags"},
			insn{code: bpfJsetK, k: cloneNewFlags, jt: "deny"},
			insn{code: bpfRetK, k: retAllow},
			insn{code: bpfRetK, k: retErrno | uint32(unix.ENOSYS), label: "enosys"},
		)
	}
	prog = append(prog,
		insn{code: bpfRetK, k: retErrno | uint32(unix.EPERM), label: "deny"},
		insn{code: bpfRetK, k: retErrno | uint32(unix.ENOSYS), label: "foreign"},
	)
	return assemble(prog)
}

// nativeOnly is the prologue of every filter: a foreign architecture (and
// x32 on amd64) jumps to the label "foreign", which the program must
// define; the system call number is loaded for what follows.
func nativeOnly() []insn {
	prog := []insn{
		{code: bpfLdWAbs, k: offArch},
		{code: bpfJeqK, k: auditArch, jf: "foreign"},
		{code: bpfLdWAbs, k: offNr},
	}
	if x32 {
		prog = append(prog, insn{code: bpfJgeK, k: x32Bit, jt: "foreign"})
	}
	return prog
}

// NoUnixSockets returns the build sandbox's filter: socket(AF_UNIX, …)
// fails with EACCES (a build must not reach a host daemon through a socket
// on the read-only host file system; socketpair still works), foreign
// architectures with ENOSYS, everything else is allowed.
func NoUnixSockets() ([]unix.SockFilter, error) {
	prog := append(nativeOnly(),
		insn{code: bpfJeqK, k: unix.SYS_SOCKET, jf: "allow"},
		insn{code: bpfLdWAbs, k: offArg0},
		insn{code: bpfJeqK, k: unix.AF_UNIX, jt: "deny", jf: "allow"},
		insn{code: bpfRetK, k: retAllow, label: "allow"},
		insn{code: bpfRetK, k: retErrno | uint32(unix.EACCES), label: "deny"},
		insn{code: bpfRetK, k: retErrno | uint32(unix.ENOSYS), label: "foreign"},
	)
	return assemble(prog)
}

func assemble(prog []insn) ([]unix.SockFilter, error) {
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	out := make([]unix.SockFilter, len(prog))
	for pc, in := range prog {
		rel := func(label string) (uint8, error) {
			if label == "" {
				return 0, nil
			}
			to, ok := at[label]
			if !ok || to <= pc || to-pc-1 > 255 {
				return 0, fmt.Errorf("assembling seccomp filter: jump from %d to %q out of range", pc, label)
			}
			return uint8(to - pc - 1), nil
		}
		jt, err := rel(in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := rel(in.jf)
		if err != nil {
			return nil, err
		}
		out[pc] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return out, nil
}

// Bytes encodes prog as the kernel reads it, for a filter handed over as
// bytes (bwrap --seccomp).
func Bytes(prog []unix.SockFilter) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.LittleEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.LittleEndian.AppendUint32(out, in.K)
	}
	return out
}

// Install installs prog on the calling thread, which the caller keeps
// locked: what it execs inherits the filter, with no way to lift it. The
// thread needs no_new_privs or CAP_SYS_ADMIN.
func Install(prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fp)), 0, 0); err != nil {
		return fmt.Errorf("installing the seccomp filter: %w", err)
	}
	return nil
}
