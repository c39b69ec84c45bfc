package drift

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fanotify tells which process wrote a file: inotify does not. It needs
// CAP_SYS_ADMIN; without it the tracker records edits without a process.
type fanotify struct {
	f *os.File
}

// writer is a process that closed a file it wrote.
type writer struct {
	Path    string
	PID     int
	Process string // comm and command line, as far as /proc still has them
	Time    time.Time
}

func openFanotify() (*fanotify, error) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanotify unavailable (it needs CAP_SYS_ADMIN): %w", err)
	}
	return &fanotify{f: os.NewFile(uintptr(fd), "fanotify")}, nil
}

// mark replaces the marked directories with dirs.
func (fa *fanotify) mark(dirs []string) error {
	rc, err := fa.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		_ = unix.FanotifyMark(int(fd), unix.FAN_MARK_FLUSH, 0, unix.AT_FDCWD, "/")
		for _, d := range dirs {
			err := unix.FanotifyMark(int(fd), unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, unix.FAN_CLOSE_WRITE|unix.FAN_EVENT_ON_CHILD, unix.AT_FDCWD, d)
			if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
				ferr = fmt.Errorf("fanotify: marking %s: %w", d, err)
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// read blocks until events arrive and returns the writers they name.
func (fa *fanotify) read() ([]writer, error) {
	buf := make([]byte, 64*int(unix.FAN_EVENT_METADATA_LEN))
	n, err := fa.f.Read(buf)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	self := os.Getpid()
	var out []writer
	for off := 0; off+int(unix.FAN_EVENT_METADATA_LEN) <= n; {
		m := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
		if m.Event_len < uint32(unix.FAN_EVENT_METADATA_LEN) {
			break
		}
		off += int(m.Event_len)
		if m.Fd < 0 {
			continue
		}
		p, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(m.Fd)))
		unix.Close(int(m.Fd))
		if int(m.Pid) == self || p == "" {
			continue
		}
		out = append(out, writer{Path: p, PID: int(m.Pid), Process: process(int(m.Pid)), Time: now})
	}
	return out, nil
}

// process describes pid from /proc: "comm: cmdline", or "" once it exited.
func process(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid)
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return ""
	}
	desc := strings.TrimSpace(string(comm))
	if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cmd) > 0 {
		args := strings.Join(strings.Fields(string(bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '}))), " ")
		if len(args) > 200 {
			args = args[:200] + "…"
		}
		desc += ": " + args
	}
	return desc
}

func (fa *fanotify) close() error { return fa.f.Close() }
