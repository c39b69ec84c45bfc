package drift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// attribution is how long a fanotify writer and an inotify event of the
// same file are taken to be the same edit.
const attribution = 5 * time.Second

// Option configures NewTracker.
type Option func(*Tracker)

// WithBudget caps the directories watched (default DefaultBudget).
func WithBudget(n int) Option { return func(t *Tracker) { t.budget = n } }

// WithoutFanotify records edits without their process even where fanotify
// works. Default: fanotify is used when the process may.
func WithoutFanotify() Option { return func(t *Tracker) { t.noFan = true } }

// WithConfigFile also watches the node's config file (node.toml) with the
// same inotify instance and calls changed, from its own goroutine, after
// each write or replacement of it (several in a row coalesce into one
// call). Default: not watched.
func WithConfigFile(path string, changed func()) Option {
	return func(t *Tracker) { t.cfgFile, t.cfgChanged = filepath.Clean(path), changed }
}

// Tracker records local edits of a node's managed /etc files as the
// kernel reports them and applies the role's drift policy.
type Tracker struct {
	root   string
	etc    *etcmerge.Etc
	budget int
	noFan  bool
	w      *Watcher
	fan    *fanotify
	fanErr error
	log    *slog.Logger // from NewTracker's ctx

	mu      sync.Mutex // held while handling an event, and by Hold
	writers map[string]writer

	cfgFile    string
	cfgChanged func()
	cfgKick    chan struct{}
}

// NewTracker opens the inotify instance (and fanotify, where allowed) for
// the node at root and watches its managed files' directories.
func NewTracker(ctx context.Context, root string, opts ...Option) (*Tracker, error) {
	t := &Tracker{root: root, etc: etcmerge.Open(root), writers: map[string]writer{}, log: logctx.From(ctx)}
	for _, o := range opts {
		o(t)
	}
	w, err := NewWatcher(t.budget)
	if err != nil {
		return nil, err
	}
	t.w = w
	if t.noFan {
		t.fanErr = errors.New("fanotify turned off")
	} else if t.fan, t.fanErr = openFanotify(); t.fanErr != nil {
		t.log.Info("local edits are recorded without the writing process", "reason", t.fanErr)
	}
	if err := t.Refresh(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Processes says whether edits are attributed to a process: "" when they
// are, else why not.
func (t *Tracker) Processes() string {
	if t.fanErr != nil {
		return t.fanErr.Error()
	}
	return ""
}

// Watched returns how many directories the inotify instance watches.
func (t *Tracker) Watched() int { return t.w.Watched() }

// Refresh watches the directories of the files the manifest lists now
// (call it after a merge).
func (t *Tracker) Refresh() error {
	m, err := t.etc.Manifest()
	if err != nil {
		return err
	}
	dirs := map[string]bool{}
	if t.cfgFile != "" {
		dirs[filepath.Dir(t.cfgFile)] = true
	}
	for p := range m.Entries {
		dirs[filepath.Dir(t.etc.Live(p))] = true
	}
	list := slices.Sorted(func(yield func(string) bool) {
		for d := range dirs {
			if !yield(d) {
				return
			}
		}
	})
	if err := t.w.Sync(list); err != nil {
		return fmt.Errorf("watching the managed config files: %w", err)
	}
	if t.fan != nil {
		if err := t.fan.mark(list); err != nil {
			t.log.Warn("local edits are recorded without the writing process", "err", err)
		}
	}
	return nil
}

// Hold stops the tracker handling events until release is called: a merge
// holds it while it writes, and the events its writes cause are then
// handled against the new base (where they are no drift).
func (t *Tracker) Hold() (release func()) {
	t.mu.Lock()
	return t.mu.Unlock
}

// Run handles events until ctx ends or the tracker is closed.
func (t *Tracker) Run(ctx context.Context) error {
	log := logctx.From(ctx)
	type batch struct {
		evs []Event
		ws  []writer
		err error
	}
	ch := make(chan batch)
	if t.cfgChanged != nil {
		t.cfgKick = make(chan struct{}, 1)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.cfgKick:
					t.cfgChanged()
				}
			}
		}()
	}
	go func() {
		for {
			evs, err := t.w.Read()
			select {
			case ch <- batch{evs: evs, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	if t.fan != nil {
		go func() {
			for {
				ws, err := t.fan.read()
				if err != nil {
					return
				}
				select {
				case ch <- batch{ws: ws}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		var b batch
		select {
		case <-ctx.Done():
			return nil
		case b = <-ch:
		}
		if b.err != nil {
			if errors.Is(b.err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading inotify events: %w", b.err)
		}
		t.mu.Lock()
		for _, w := range b.ws {
			t.attribute(w)
		}
		for _, e := range b.evs {
			if err := t.handle(e); err != nil {
				log.Error("recording a local edit", "path", e.Path(), "err", err)
			}
		}
		t.mu.Unlock()
	}
}

// handle judges one inotify event; t.mu is held.
func (t *Tracker) handle(e Event) error {
	log := t.log
	switch {
	case e.Mask&unix.IN_Q_OVERFLOW != 0:
		log.Warn("the inotify queue overflowed: edits made meanwhile may be unrecorded (a switch still merges them)")
		return nil
	case e.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		return nil
	case e.Dir == "" || atomicfile.IsTemp(e.Name) || e.Mask&unix.IN_ISDIR != 0:
		return nil
	}
	if t.cfgKick != nil && e.Path() == t.cfgFile && e.Mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0 {
		select {
		case t.cfgKick <- struct{}{}:
		default: // one is pending already
		}
		return nil
	}
	rel, err := filepath.Rel(t.root, e.Path())
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil
	}
	p := "/" + filepath.ToSlash(rel)
	m, err := t.etc.Manifest()
	if err != nil {
		return err
	}
	ent, ok := m.Entries[p]
	if !ok {
		return nil // not managed: the operator's own file
	}
	st, err := etcmerge.Stat(e.Path())
	if err != nil {
		return err
	}
	if e.Mask&unix.IN_CREATE != 0 && st.Exists && !st.Link {
		return nil // a file being written: its IN_CLOSE_WRITE follows
	}
	l, err := ReadLog(t.root)
	if err != nil {
		return err
	}
	if same(st, ent) {
		if _, ok := l.Files[p]; ok {
			delete(l.Files, p) // the edit was undone
			return l.write(t.root)
		}
		return nil
	}
	rec := &Record{Path: p, Time: time.Now().UTC(), Event: MaskString(e.Mask &^ unix.IN_ISDIR), Seq: e.Seq, Action: Reported}
	if w, ok := t.writerOf(e.Path()); ok {
		rec.PID, rec.Process = w.PID, w.Process
	}
	if m.Policy.DriftPolicy() == imagespec.DriftRevert {
		if err := t.etc.Restore(p); err != nil {
			return fmt.Errorf("reverting %s: %w", p, err)
		}
		rec.Action = Reverted
		delete(l.Files, p)
		log.Warn("reverted a local edit (drift policy revert)", "path", p, "event", rec.Event, "pid", rec.PID, "process", rec.Process)
	} else {
		l.Files[p] = rec
		log.Info("local edit recorded (drift policy report)", "path", p, "event", rec.Event, "pid", rec.PID, "process", rec.Process)
	}
	l.History = append(l.History, rec)
	return l.write(t.root)
}

func same(st etcmerge.State, e etcmerge.Entry) bool {
	return st.Exists && st.Other == "" && st.Link == e.Link && st.SHA256 == e.SHA256 && (e.Link || st.Mode == e.Mode)
}

// writerOf finds the process that wrote host path p lately: the writer of
// p itself, else of a file in its directory (an editor or atomic writer
// writes a temp file and renames it over p).
func (t *Tracker) writerOf(p string) (writer, bool) {
	now := time.Now()
	if w, ok := t.writers[p]; ok && now.Sub(w.Time) < attribution {
		return w, true
	}
	var best writer
	for q, w := range t.writers {
		if path.Dir(q) == path.Dir(p) && now.Sub(w.Time) < attribution && w.Time.After(best.Time) {
			best = w
		}
	}
	return best, best.PID != 0
}

// attribute remembers a writer and names it in a record of the same file
// written moments before without one; t.mu is held.
func (t *Tracker) attribute(w writer) {
	for q, old := range t.writers {
		if time.Since(old.Time) > attribution {
			delete(t.writers, q)
		}
	}
	t.writers[w.Path] = w
	l, err := ReadLog(t.root)
	if err != nil {
		return
	}
	changed := false
	for _, r := range l.History {
		if r.PID == 0 && time.Since(r.Time) < attribution && (t.etc.Live(r.Path) == w.Path || filepath.Dir(t.etc.Live(r.Path)) == filepath.Dir(w.Path)) {
			r.PID, r.Process, changed = w.PID, w.Process, true
			if f := l.Files[r.Path]; f != nil && f.Seq == r.Seq {
				f.PID, f.Process = w.PID, w.Process
			}
		}
	}
	if changed {
		_ = l.write(t.root)
	}
}

// Close releases the inotify and fanotify instances.
func (t *Tracker) Close() error {
	err := t.w.Close()
	if t.fan != nil {
		_ = t.fan.close()
	}
	return err
}
