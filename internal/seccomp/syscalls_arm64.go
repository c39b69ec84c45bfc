package seccomp

import "golang.org/x/sys/unix"

const (
	auditArch = 0xc00000b7 // AUDIT_ARCH_AARCH64
	x32       = false
)

var rawIO = []string{}

var obsolete = []string{"nfsservctl"}

var syscalls = withCommon(map[string]uint32{
	"nfsservctl": unix.SYS_NFSSERVCTL,
	"umount2":    unix.SYS_UMOUNT2,
})
