package seccomp

import "golang.org/x/sys/unix"

const (
	auditArch = 0xc000003e // AUDIT_ARCH_X86_64
	x32       = true       // the x32 ABI shares this table with bit 30 set
)

var rawIO = []string{"ioperm", "iopl"}

var obsolete = []string{"uselib", "_sysctl", "sysfs", "ustat", "create_module", "get_kernel_syms", "query_module", "nfsservctl"}

var syscalls = withCommon(map[string]uint32{
	"ioperm": unix.SYS_IOPERM, "iopl": unix.SYS_IOPL,
	"uselib": unix.SYS_USELIB, "_sysctl": unix.SYS__SYSCTL, "sysfs": unix.SYS_SYSFS, "ustat": unix.SYS_USTAT,
	"create_module": unix.SYS_CREATE_MODULE, "get_kernel_syms": unix.SYS_GET_KERNEL_SYMS,
	"query_module": unix.SYS_QUERY_MODULE, "nfsservctl": unix.SYS_NFSSERVCTL,
	"umount2": unix.SYS_UMOUNT2,
})
