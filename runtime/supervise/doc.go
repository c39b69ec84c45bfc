// Package supervise runs an image's services on a node: it starts them in
// dependency order (a service starts once the services it names in `after`
// are ready, independent services in parallel), watches their readiness
// (notification fd, TCP, HTTP or a command), restarts them by policy with a
// capped, jittered exponential backoff, gives up after a burst of failures,
// writes their output to size-capped rotating log files, and stops them with
// SIGTERM then SIGKILL, whole process group included. A service that
// declares no readiness check is ready once it has stayed up for a settle
// period (Options.Settle, 1s by default), so a crash loop is never ready.
//
// Run as root with Options.Chroot, each service is sandboxed in the image
// root by a launcher (package internal/launch): new mount and PID
// namespaces, the root read-only (its files are hardlinks shared with the
// store's layers), its own /proc, a minimal /dev and tmpfs /tmp and /run.
// The launcher is this program re-executed, so main must call MaybeLaunch
// first; once the sandbox is set up it execs the service, which becomes
// PID 1 of its namespace (no process of ours stays per service). As an
// init, the service gets no signal it has no handler for: Stop sends
// SIGTERM only to a service that catches it (SigCgt in /proc/PID/status)
// and SIGKILL at once to one that does not. Orphans in the namespace are
// re-parented to the service and die with it when it exits. Readiness
// commands run chrooted into /proc/PID/root, the service's own view of
// its root (its /tmp and /run included), as its user, in a PID namespace
// of their own, without the capabilities it lacks.
//
// It is driven by events only: process exits arrive from wait goroutines,
// notification fds from blocking reads, and timers are used only for backoff
// and for retrying readiness checks, and the settle period. Nothing polls.
//
// The runtime's node daemon (package node) owns one Supervisor per running
// image; the Supervisor knows nothing about stores or images beyond the
// service and user definitions of package imagespec.
package supervise
