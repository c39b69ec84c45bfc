// Package sandbox runs a package's build script isolated from the host.
//
// [Sandbox] is the interface the builder takes (builder.WithSandbox);
// [Bwrap] is its implementation with bubblewrap. A build sees only its
// inputs: bwrap's own empty root, read-only, holding
//
//   - the host's /usr read-only (and the merged-/usr links /bin, /lib, ...),
//     without /usr/local and without the directories of toolchains the
//     build did not declare (gcc's /usr/lib/gcc);
//   - for each declared host tool ([Spec.Tools], the recipe's host:NAME
//     dependencies) its executable, the links leading to it, the shared
//     libraries ldd names and its own directories (GOROOT for go), resolved
//     by [Tools];
//   - an /etc of its own: passwd and group naming the unprivileged build
//     user ([BuildUID]:[BuildGID], which the script runs as, in a user
//     namespace), hosts, and from the host only the dynamic linker's cache
//     and Debian's alternatives links;
//   - a minimal /dev, /proc and a tmpfs /tmp;
//   - the build directory at /build (the source copy, $HOME, $TMPDIR and
//     $DESTDIR), the only writable place besides the caches the caller
//     declares ([Spec.Writable]), and the read-only binds it declares
//     ([Spec.ReadOnly]: dependencies at /deps/NAME, the Go module cache).
//
// Nothing else of the host is there: not /etc/shadow, /root, /home, /var,
// other checkouts or keys. The network is unshared (only a loopback
// interface), the environment is clean and fixed, every capability is
// dropped, and a seccomp filter refuses socket(AF_UNIX). A build that
// writes elsewhere or reaches for the network fails; a failing build is
// reported as a [*BuildError] carrying the tail of its log.
//
// The builder runs one [Spec] per package and then hands [Spec.DestDir] to
// builder/cache and builder/layer.
package sandbox
