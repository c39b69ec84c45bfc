package testsupport

import (
	"net"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// Bait is what a sandboxed program must not reach on the host: a key in
// the test's user keyring, a SysV shared memory segment and a listener
// on the host's loopback. The sandbox probe (internal/sandboxprobe) is
// told them through PROBE_KEY, PROBE_SHM and PROBE_PORT.
type Bait struct {
	Key, Shm, Port int
}

// ProbeEnv returns the probe's environment naming b, NAME=VALUE.
func (b Bait) ProbeEnv() []string {
	return []string{"PROBE_KEY=" + strconv.Itoa(b.Key), "PROBE_SHM=" + strconv.Itoa(b.Shm), "PROBE_PORT=" + strconv.Itoa(b.Port)}
}

// HostBait sets up a [Bait], removed when the test ends. It needs the
// right to add a user key and a shared memory segment (root in CI).
func HostBait(t testing.TB) Bait {
	t.Helper()
	key, err := unix.AddKey("user", "undistro-probe-"+strconv.Itoa(os.Getpid()), []byte("secret"), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		t.Fatalf("adding a key to the user keyring: %v", err)
	}
	t.Cleanup(func() { _, _ = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, key, 0, 0, 0) })
	shm, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatalf("creating a shared memory segment: %v", err)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(shm, unix.IPC_RMID, nil) })
	ln := Listen(t)
	return Bait{Key: key, Shm: shm, Port: ln.Addr().(*net.TCPAddr).Port}
}
