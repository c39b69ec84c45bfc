// Package launch runs one service in a sandbox: the supervisor re-executes
// its own binary (/proc/self/exe) as "__launch" in new mount and PID
// namespaces, and that launcher, before starting the service:
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
//     root cannot be pivoted to), then starts the service with the
//     declared user, groups, work dir and environment in its own process
//     group, without the capabilities that would undo the sandbox
//     (CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and a few more).
//
// The launcher then stays as the namespace's init (PID 1): it forwards
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the service's
// process group, reaps orphans re-parented to it, runs the supervisor's
// readiness commands inside the same namespaces on request, and exits with
// the service's status once the service has exited, which makes the kernel
// kill whatever is left in the namespace. A service thus need not handle
// being PID 1.
//
// The supervisor and the launcher talk over two pipes: the control pipe
// carries the Spec, then readiness-check requests, one JSON line each; the
// status pipe carries the launcher's reports ("started PID", "error TEXT",
// "check ID exit N", "exit N", "signal N"), one line each.
//
// Go cannot run code between clone and exec, hence the re-exec: the
// program's main (and the TestMain of tests that start sandboxed services)
// calls Main first, which runs the launcher when the process was started
// as one.
package launch
