// Package supervise runs an image's services on a node: it starts them in
// dependency order (a service starts once the services it names in `after`
// are ready, independent services in parallel), watches their readiness
// (notification fd, TCP, HTTP or a command), restarts them by policy with a
// capped, jittered exponential backoff, gives up after a burst of failures,
// writes their output to size-capped rotating log files, and stops them with
// SIGTERM then SIGKILL, whole process group included.
//
// It is driven by events only: process exits arrive from wait goroutines,
// notification fds from blocking reads, and timers are used only for backoff
// and for retrying readiness checks. Nothing polls.
//
// The runtime's node daemon (package node) owns one Supervisor per running
// image; the Supervisor knows nothing about stores or images beyond the
// service and user definitions of package imagespec.
package supervise
