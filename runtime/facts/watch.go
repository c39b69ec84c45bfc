package facts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// AddressWatcher tells when an address of the node's network namespace is
// added or removed, as the kernel reports it over rtnetlink: the event
// that changes .Facts.Addresses, without polling.
type AddressWatcher struct {
	f *os.File
}

// WatchAddresses subscribes to the address changes of the calling
// thread's network namespace.
func WatchAddresses() (*AddressWatcher, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("watching addresses: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watching addresses: %w", err)
	}
	return &AddressWatcher{f: os.NewFile(uintptr(fd), "rtnetlink")}, nil
}

// Run calls changed after each batch of address changes until ctx ends
// or the watcher is closed.
func (w *AddressWatcher) Run(ctx context.Context, changed func()) error {
	stop := context.AfterFunc(ctx, func() { w.f.Close() })
	defer stop()
	buf := make([]byte, 1<<16)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) {
				changed() // events were lost: something changed
				continue
			}
			return fmt.Errorf("watching addresses: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type == unix.RTM_NEWADDR || m.Header.Type == unix.RTM_DELADDR {
				changed()
				break
			}
		}
	}
}

// Close stops the watcher.
func (w *AddressWatcher) Close() error { return w.f.Close() }
