package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/runtime/supervise"
)

// Logs copies service's log to w. With follow it keeps copying what the
// service writes, across rotations, until ctx ends; it waits on inotify
// events, never polls.
func (n *Node) Logs(ctx context.Context, service string, follow bool, w io.Writer) error {
	if service == "" || strings.ContainsAny(service, "/\x00") || service == "." || service == ".." {
		return fmt.Errorf("reading logs: bad service name %q", service)
	}
	dir := LogDir(n.cfg.Root)
	path := supervise.LogPath(dir, service)
	if !follow {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reading logs: no log for service %q at %s: check the name with `undistro node status`", service, path)
		}
		if err != nil {
			return fmt.Errorf("reading logs: %w", err)
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("following logs: %w", err)
	}
	// Watch before opening so nothing written in between is missed.
	ino, err := watchDir(dir)
	if err != nil {
		return fmt.Errorf("following logs: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ino.Close() })
	defer func() {
		if stop() {
			ino.Close()
		}
	}()
	f, _ := os.Open(path) // nil until the service first writes
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	drain := func() error {
		if f == nil {
			return nil
		}
		_, err := io.Copy(w, f)
		return err
	}
	if err := drain(); err != nil {
		return err
	}
	name := service + ".log"
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		nr, err := ino.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("following logs: %w", err)
		}
		for _, ev := range parseEvents(buf[:nr]) {
			if ev.name != name {
				continue
			}
			if ev.mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				// Rotated: finish the old file, continue with the new one.
				if err := drain(); err != nil {
					return err
				}
				if f != nil {
					f.Close()
				}
				f, _ = os.Open(path)
			}
			if err := drain(); err != nil {
				return err
			}
		}
	}
}

// watchDir returns an inotify descriptor watching dir for writes and
// renames, readable through Go's poller (so closing it ends a Read).
func watchDir(dir string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), "inotify:"+dir), nil
}

type inotifyEvent struct {
	mask uint32
	name string
}

// parseEvents decodes a read from an inotify descriptor.
func parseEvents(b []byte) []inotifyEvent {
	var out []inotifyEvent
	for len(b) >= unix.SizeofInotifyEvent {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(raw.Len)
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		out = append(out, inotifyEvent{mask: raw.Mask, name: string(name)})
		b = b[end:]
	}
	return out
}
