package sandbox

import (
	"encoding/binary"
	"syscall"
)

// The network namespace cuts TCP/UDP and abstract unix sockets, but not unix
// sockets bound to paths on the (read-only) host file system: connect()
// works on a read-only mount. A build could reach a local daemon that way
// (a database, a container engine). The sandbox therefore mounts a tmpfs on
// /run and installs a seccomp filter that refuses socket(AF_UNIX, …) with
// EACCES. socketpair(2), which needs no path, still works, as do pipes. The
// filter also refuses foreign-ABI system calls (i386 and x32 on amd64),
// which could otherwise bypass it.

// seccomp_data offsets and BPF/seccomp constants (linux/filter.h,
// linux/seccomp.h, linux/audit.h).
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits of args[0] on little-endian machines

	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	retAllow = 0x7fff0000
	retErrno = 0x00050000

	x32Bit = 0x40000000
)

type filterArch struct {
	audit  uint32
	socket uint32
	x32    bool
}

var filterArches = map[string]filterArch{
	"amd64": {audit: 0xc000003e, socket: 41, x32: true},
	"arm64": {audit: 0xc00000b7, socket: 198},
}

// insn is one classic BPF instruction; jt/jf are label names resolved by
// assemble.
type insn struct {
	code   uint16
	jt, jf string
	k      uint32
	label  string
}

// seccompFilter returns the compiled filter (struct sock_filter[]) for
// goarch, or nil for an architecture it does not know.
func seccompFilter(goarch string) []byte {
	a, ok := filterArches[goarch]
	if !ok {
		return nil
	}
	prog := []insn{
		{code: bpfLdWAbs, k: offArch},
		{code: bpfJeqK, k: a.audit, jf: "foreign"},
		{code: bpfLdWAbs, k: offNr},
	}
	if a.x32 {
		prog = append(prog, insn{code: bpfJgeK, k: x32Bit, jt: "foreign"})
	}
	prog = append(prog,
		insn{code: bpfJeqK, k: a.socket, jf: "allow"},
		insn{code: bpfLdWAbs, k: offArg0},
		insn{code: bpfJeqK, k: syscall.AF_UNIX, jt: "deny", jf: "allow"},
		insn{code: bpfRetK, k: retAllow, label: "allow"},
		insn{code: bpfRetK, k: retErrno | uint32(syscall.EACCES), label: "deny"},
		insn{code: bpfRetK, k: retErrno | uint32(syscall.ENOSYS), label: "foreign"},
	)
	return assemble(prog)
}

func assemble(prog []insn) []byte {
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	rel := func(pc int, label string) uint8 {
		if label == "" {
			return 0
		}
		return uint8(at[label] - pc - 1)
	}
	out := make([]byte, 0, 8*len(prog))
	for pc, in := range prog {
		out = binary.LittleEndian.AppendUint16(out, in.code)
		out = append(out, rel(pc, in.jt), rel(pc, in.jf))
		out = binary.LittleEndian.AppendUint32(out, in.k)
	}
	return out
}
