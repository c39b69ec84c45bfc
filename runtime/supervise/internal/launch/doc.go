// Package launch runs one service in a sandbox: the supervisor re-executes
// its own binary (/proc/self/exe) as "__launch" in new mount and PID
// namespaces, and that launcher, before becoming the service:
//
//   - makes every mount private (nothing propagates back to the host),
//   - bind-mounts the image root onto itself and remounts it read-only, so
//     the service cannot write through the hardlinks the root shares with
//     the store's unpacked layers,
//   - mounts, where the image has the directory: a fresh proc on /proc; a
//     tmpfs on /dev holding bind mounts of the host's null, zero, full,
//     random, urandom and tty, /dev/shm and the fd, stdin, stdout, stderr
//     links; tmpfs on /tmp (mode 1777) and /run (mode 0755), which hide
//     whatever the image ships there and start empty at each start,
//   - pivots into the root and detaches the host's tree (chroot when the
//     root cannot be pivoted to), drops from its bounding set the
//     capabilities that would undo the sandbox (CAP_SYS_ADMIN,
//     CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and a few more), takes the
//     declared groups, user and work dir, and execs the service.
//
// Nothing of the launcher stays resident: the service itself is PID 1 of
// its PID namespace, with the launcher's process group and host pid. That
// has the consequences of any program run as a namespace's init (s6 and
// runit services in a PID namespace have the same shape):
//
//   - the kernel drops signals the service has no handler for, SIGKILL
//     from inside included, so the supervisor stops a service that does
//     not catch SIGTERM with SIGKILL at once;
//   - orphans inside the namespace are re-parented to the service, which
//     reaps them or leaves them as zombies until it exits;
//   - when the service exits the kernel kills whatever is left in the
//     namespace.
//
// The supervisor and the launcher talk over two pipes: the control pipe
// carries the Spec, one JSON line; the status pipe, close-on-exec, carries
// "exec" just before the exec and "error TEXT" when a step (or the exec)
// failed. EOF after "exec" and nothing else means the service runs, as in
// the classic fork/exec status pipe.
//
// Readiness commands are not run here: the supervisor starts them chrooted
// into the service's root as the service sees it (/proc/PID/root), in a
// PID namespace of their own, with StartConfined, which drops the same
// capabilities.
//
// Go cannot run code between clone and exec, hence the re-exec: the
// program's main (and the TestMain of tests that start sandboxed services)
// calls Main first, which runs the launcher when the process was started
// as one.
package launch
