// Package sandbox runs a package's build script isolated from the host.
//
// [Bwrap] uses bubblewrap: the host file system is visible but read-only,
// the network is unshared (only a loopback interface), the environment
// is clean and fixed, every capability is dropped, /run is an empty tmpfs
// and a seccomp filter refuses socket(AF_UNIX) (so host daemons listening on
// path sockets are out of reach too), and the only writable
// places are the build directory (mounted at /build, holding the source copy,
// $HOME, $TMPDIR and $DESTDIR) and the caches the caller declares. A build
// that writes elsewhere or reaches for the network fails; a failing build is
// reported as a [*BuildError] carrying the tail of its log.
//
// The builder runs one [Spec] per package and then hands [Spec.DestDir] to
// builder/cache and builder/layer.
package sandbox
