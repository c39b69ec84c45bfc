package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// Actions of a Record.
const (
	Reported = "reported" // the edit is kept (policy report)
	Reverted = "reverted" // the image's file was restored (policy revert)
)

// maxHistory bounds the records kept besides the current drift.
const maxHistory = 200

// Record is one local edit, as the kernel reported it.
type Record struct {
	Path  string    `json:"path"` // "/etc/..."
	Time  time.Time `json:"time"`
	Event string    `json:"event"` // the inotify event, e.g. "IN_CLOSE_WRITE"
	// Seq numbers the events of one daemon's watcher: the edit was
	// recorded by that event (there is no scan).
	Seq uint64 `json:"seq"`
	// PID and Process are the writer, when fanotify told.
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	Action  string `json:"action"`
}

// Log is ROOT/conf/drift.json.
type Log struct {
	// Files holds the latest reported edit of each drifted file.
	Files map[string]*Record `json:"files"`
	// History holds the latest edits, reverted ones included, oldest first.
	History []*Record `json:"history,omitempty"`
}

func logPath(root string) string { return filepath.Join(root, "conf", "drift.json") }

// ReadLog reads the node's drift log; none yet is an empty log.
func ReadLog(root string) (*Log, error) {
	l := &Log{Files: map[string]*Record{}}
	b, err := os.ReadFile(logPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the drift log: %w", err)
	}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("reading the drift log %s: %w: move it aside to start afresh", logPath(root), err)
	}
	if l.Files == nil {
		l.Files = map[string]*Record{}
	}
	return l, nil
}

func (l *Log) write(root string) error {
	if len(l.History) > maxHistory {
		l.History = l.History[len(l.History)-maxHistory:]
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(logPath(root)), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(logPath(root), append(b, '\n'), 0o600, atomicfile.Step("drift.log")); err != nil {
		return fmt.Errorf("writing the drift log: %w", err)
	}
	return nil
}
