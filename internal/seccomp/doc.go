// Package seccomp builds and installs the seccomp filter every undistro
// service runs under: the system calls a long-running service has no use
// for, as systemd's @system-service set leaves out, refused with EPERM.
//
// The filter is classic BPF, assembled here (no cgo, no libseccomp):
//
//   - a foreign architecture (i386 or x32 on amd64) is refused with ENOSYS
//     before anything else: only the native system call table is checked,
//     so no foreign table can bypass the list;
//   - clone and unshare asking for a new namespace (any CLONE_NEW* flag)
//     and setns fail with EPERM; clone3, whose flags sit in memory the
//     filter cannot read, fails with ENOSYS so C libraries fall back to
//     clone;
//   - the groups below fail with EPERM; everything else is allowed.
//
// A service may take groups or single calls back (Additions); the names
// are checked by [Check], which lint uses too.
//
// The build sandbox's filter ([NoUnixSockets], handed to bubblewrap as
// bytes by [Bytes]) is assembled by the same code: one home for the BPF.
package seccomp
