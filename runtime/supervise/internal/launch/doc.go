// Package launch runs one service in a sandbox: the supervisor re-executes
// its own binary (/proc/self/exe) as "__launch" in new mount, PID, IPC and
// UTS namespaces (and a network namespace unless the service takes the
// host's), and that launcher, before becoming the service:
//
//   - brings loopback up in a private network namespace (network =
//     "private", the default; "none" leaves it down),
//   - makes every mount private (nothing propagates back to the host),
//   - bind-mounts the image root onto itself and remounts it read-only,
//     nosuid and nodev (nosuid stays off for allow_setuid), so the
//     service cannot write through the hardlinks the root shares with
//     the store's unpacked layers,
//   - mounts, where the image has the directory: a fresh proc on /proc,
//     with /dev/null over kcore, kallsyms, keys and the other kernel
//     files container runtimes mask and /proc/sys, sysrq-trigger, bus,
//     fs and irq bound read-only; a tmpfs on /dev holding bind mounts of
//     the host's null, zero, full, random, urandom and tty, /dev/shm and
//     the fd, stdin, stdout, stderr links; tmpfs on /tmp (mode 1777) and
//     /run (mode 0755), sized, which hide whatever the image ships there
//     and start empty at each start; every one nosuid, nodev and noexec
//     (the masks too; the device nodes nosuid and noexec),
//   - binds the service's read_write_paths from the node's state
//     directory, resolved beneath the root without following symlinks,
//   - pivots into the root and detaches the host's tree (chroot when the
//     root cannot be pivoted to),
//   - joins a new session keyring, marks every descriptor but stdio and
//     the notification fd close-on-exec,
//   - empties the capability bounding set but the granted capabilities,
//     installs the seccomp filter (internal/seccomp) and sets
//     no_new_privs (unless allow_setuid), still as root,
//   - takes the declared groups and user, leaves exactly the granted
//     capabilities in the permitted, effective, inheritable and ambient
//     sets (so a non-root service holds them across exec), sets
//     RLIMIT_NPROC and, last, RLIMIT_AS (the rlimit fallback of tasks_max
//     and memory_max), enters the work dir and execs the service.
//
// Spec.Legacy keeps the sandbox of before all this (mount and PID
// namespaces, nine capabilities dropped), for the benchmark's baseline.
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
// PID namespace of their own, with StartConfined: in the service's
// network, IPC and UTS namespaces, with its bounding set and no_new_privs
// (not its seccomp filter, which refuses the chroot that start makes).
//
// Go cannot run code between clone and exec, hence the re-exec: the
// program's main (and the TestMain of tests that start sandboxed services)
// calls Main first, which runs the launcher when the process was started
// as one.
package launch
