package drift

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultBudget is how many directories a Watcher watches at most unless
// WithBudget says otherwise.
const DefaultBudget = 4096

// ErrBudget is wrapped when a watcher would need more watches than its
// budget or the system allows.
var ErrBudget = errors.New("inotify watch budget exceeded")

// watchMask is what a change of a config file looks like: a write closed,
// a file renamed in or out (editors and atomic writers), created (links),
// removed, or its mode or owner changed.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// Event is one inotify event on a name in a watched directory.
type Event struct {
	Dir  string // the watched directory (host path)
	Name string
	Mask uint32
	Seq  uint64 // counts the watcher's events from 1
}

// Path is the event's host path.
func (e Event) Path() string { return e.Dir + "/" + e.Name }

// Mask names the event's flags, as "IN_CLOSE_WRITE".
func MaskString(m uint32) string {
	var out []string
	for _, f := range maskNames {
		if m&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	if len(out) == 0 {
		return "0x" + strconv.FormatUint(uint64(m), 16)
	}
	return strings.Join(out, "|")
}

var maskNames = []struct {
	bit  uint32
	name string
}{
	{unix.IN_CLOSE_WRITE, "IN_CLOSE_WRITE"}, {unix.IN_MOVED_TO, "IN_MOVED_TO"}, {unix.IN_MOVED_FROM, "IN_MOVED_FROM"},
	{unix.IN_CREATE, "IN_CREATE"}, {unix.IN_DELETE, "IN_DELETE"}, {unix.IN_ATTRIB, "IN_ATTRIB"},
	{unix.IN_DELETE_SELF, "IN_DELETE_SELF"}, {unix.IN_MOVE_SELF, "IN_MOVE_SELF"}, {unix.IN_IGNORED, "IN_IGNORED"},
	{unix.IN_Q_OVERFLOW, "IN_Q_OVERFLOW"}, {unix.IN_ISDIR, "IN_ISDIR"},
}

// Watcher is one inotify instance watching a set of directories.
type Watcher struct {
	f      *os.File
	budget int

	mu   sync.Mutex
	byWD map[int]string
	wds  map[string]int
	seq  uint64
}

// NewWatcher opens the inotify instance. budget <= 0 is DefaultBudget.
func NewWatcher(budget int) (*Watcher, error) {
	if budget <= 0 {
		budget = DefaultBudget
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.EMFILE) {
			return nil, fmt.Errorf("opening inotify: the system's limit of inotify instances per user is reached (fs.inotify.max_user_instances = %s): raise it with sysctl -w fs.inotify.max_user_instances=N: %w", sysctl("max_user_instances"), err)
		}
		return nil, fmt.Errorf("opening inotify: %w", err)
	}
	return &Watcher{f: os.NewFile(uintptr(fd), "inotify"), budget: budget, byWD: map[int]string{}, wds: map[string]int{}}, nil
}

// userLimit reads /proc/sys/user/NAME, the limit of this user namespace.
func userLimit(name string) string {
	b, err := os.ReadFile("/proc/sys/user/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Sync makes the watched set exactly dirs (host paths of directories);
// one that does not exist is skipped. More than the budget is refused
// before anything changes.
func (w *Watcher) Sync(dirs []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(dirs) > w.budget {
		return fmt.Errorf("%w: %d directories of managed config files to watch, the budget is %d: raise it (the daemon's watch budget) or manage fewer directories", ErrBudget, len(dirs), w.budget)
	}
	want := map[string]bool{}
	for _, d := range dirs {
		want[d] = true
	}
	for d, wd := range w.wds {
		if !want[d] {
			_ = w.control(func(fd int) error { _, err := unix.InotifyRmWatch(fd, uint32(wd)); return err })
			delete(w.wds, d)
			delete(w.byWD, wd)
		}
	}
	for d := range want {
		if _, ok := w.wds[d]; ok {
			continue
		}
		var wd int
		err := w.control(func(fd int) error {
			var err error
			wd, err = unix.InotifyAddWatch(fd, d, watchMask)
			return err
		})
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
			continue
		case errors.Is(err, unix.ENOSPC):
			return fmt.Errorf("%w: watching %s: the system's inotify watch limit is reached (fs.inotify.max_user_watches = %s, user.max_inotify_watches = %s in this user namespace; shared by every process of this user): raise it with sysctl -w fs.inotify.max_user_watches=N", ErrBudget, d, sysctl("max_user_watches"), userLimit("max_inotify_watches"))
		case err != nil:
			return fmt.Errorf("watching %s: %w", d, err)
		}
		w.wds[d], w.byWD[wd] = wd, d
	}
	return nil
}

// Watched returns how many directories are watched.
func (w *Watcher) Watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.wds)
}

func (w *Watcher) control(f func(fd int) error) error {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Read blocks until events arrive (or Close) and returns them.
func (w *Watcher) Read() ([]Event, error) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	n, err := w.f.Read(buf)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var evs []Event
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(raw.Len)]
		off += unix.SizeofInotifyEvent + int(raw.Len)
		w.seq++
		ev := Event{Dir: w.byWD[int(raw.Wd)], Name: string(bytes.TrimRight(name, "\x00")), Mask: raw.Mask, Seq: w.seq}
		if raw.Mask&unix.IN_IGNORED != 0 {
			if d, ok := w.byWD[int(raw.Wd)]; ok {
				delete(w.wds, d)
				delete(w.byWD, int(raw.Wd))
			}
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// Close stops the watcher; a blocked Read returns.
func (w *Watcher) Close() error { return w.f.Close() }
