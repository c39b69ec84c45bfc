package facts

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestWatchAddresses adds an address in a network namespace of the test's
// own and wants the watcher told.
func TestWatchAddresses(t *testing.T) {
	testsupport.RequireRoot(t, "a network namespace")
	type result struct {
		w   *AddressWatcher
		err error
	}
	ready, added := make(chan result), make(chan error)
	go func() {
		// This thread moves to a new network namespace and is never
		// given back to the scheduler (the goroutine exits locked).
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- result{err: err}
			return
		}
		w, err := WatchAddresses()
		ready <- result{w, err}
		if err != nil {
			return
		}
		added <- addAddress([4]byte{10, 255, 0, 1})
	}()
	r := <-ready
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.w.Close()
	changed := make(chan struct{}, 10)
	stop := testsupport.Background(t, "address watcher", func(ctx context.Context) error {
		return r.w.Run(ctx, func() { changed <- struct{}{} })
	})
	defer stop()
	if err := <-added; err != nil {
		t.Fatalf("adding an address: %v", err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no address change reported")
	}
}

// addAddress adds ip/32 to lo (index 1) of the calling thread's network
// namespace through rtnetlink and waits for the kernel's answer.
func addAddress(ip [4]byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+8)
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		return append(b, data...)
	}
	ifa := unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: 32, Index: 1}
	body := append([]byte{}, (*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&ifa))[:]...)
	body = append(body, attr(unix.IFA_LOCAL, ip[:])...)
	body = append(body, attr(unix.IFA_ADDRESS, ip[:])...)
	hdr := unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr + len(body)), Type: unix.RTM_NEWADDR,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_EXCL | unix.NLM_F_ACK, Seq: 1}
	msg := append((*[unix.SizeofNlMsghdr]byte)(unsafe.Pointer(&hdr))[:], body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n >= unix.SizeofNlMsghdr+4 && binary.NativeEndian.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		if code := int32(binary.NativeEndian.Uint32(buf[unix.SizeofNlMsghdr:])); code != 0 {
			return unix.Errno(-code)
		}
	}
	return nil
}
