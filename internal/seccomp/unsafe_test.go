package seccomp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(p *unix.Timespec) unsafe.Pointer { return unsafe.Pointer(p) }
