//go:build amd64 || arm64

package seccomp

import "golang.org/x/sys/unix"

// withCommon adds the system calls both architectures number to m.
func withCommon(m map[string]uint32) map[string]uint32 {
	for k, v := range map[string]uint32{
		"adjtimex": unix.SYS_ADJTIMEX, "clock_adjtime": unix.SYS_CLOCK_ADJTIME, "clock_settime": unix.SYS_CLOCK_SETTIME,
		"settimeofday": unix.SYS_SETTIMEOFDAY,
		"ptrace":       unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
		"perf_event_open": unix.SYS_PERF_EVENT_OPEN, "kcmp": unix.SYS_KCMP, "lookup_dcookie": unix.SYS_LOOKUP_DCOOKIE,
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER, "io_uring_register": unix.SYS_IO_URING_REGISTER,
		"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
		"init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE, "delete_module": unix.SYS_DELETE_MODULE,
		"mount": unix.SYS_MOUNT, "pivot_root": unix.SYS_PIVOT_ROOT, "chroot": unix.SYS_CHROOT,
		"fsopen": unix.SYS_FSOPEN, "fsconfig": unix.SYS_FSCONFIG, "fsmount": unix.SYS_FSMOUNT, "fspick": unix.SYS_FSPICK,
		"move_mount": unix.SYS_MOVE_MOUNT, "open_tree": unix.SYS_OPEN_TREE, "mount_setattr": unix.SYS_MOUNT_SETATTR,
		"setns": unix.SYS_SETNS, "unshare": unix.SYS_UNSHARE, "clone3": unix.SYS_CLONE3,
		"acct": unix.SYS_ACCT, "bpf": unix.SYS_BPF, "quotactl": unix.SYS_QUOTACTL, "syslog": unix.SYS_SYSLOG,
		"userfaultfd": unix.SYS_USERFAULTFD, "open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
		"sethostname": unix.SYS_SETHOSTNAME, "setdomainname": unix.SYS_SETDOMAINNAME, "vhangup": unix.SYS_VHANGUP,
		"reboot": unix.SYS_REBOOT, "kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
		"swapon": unix.SYS_SWAPON, "swapoff": unix.SYS_SWAPOFF,
	} {
		m[k] = v
	}
	return m
}
