package supervise

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Log file defaults.
const (
	DefaultLogMaxBytes = 1 << 20
	DefaultLogKeep     = 3
)

// rotator is an append-only log file that rotates itself once it would grow
// past max bytes: NAME.log becomes NAME.log.1, NAME.log.1 becomes
// NAME.log.2, … and NAME.log.keep is dropped.
type rotator struct {
	mu   sync.Mutex
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

// openRotator opens (appending) the log file at path.
func openRotator(path string, max int64, keep int) (*rotator, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	r := &rotator{path: path, max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening log %s: %w", r.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log %s: %w", r.path, err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p. Output that would push the file past max is split at
// the last newline that fits (or at the cap, for a line longer than it) and
// the rest goes to a fresh file after rotating.
func (r *rotator) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if r.f == nil {
			return written, os.ErrClosed
		}
		room := r.max - r.size
		chunk := p
		if int64(len(chunk)) > room {
			cut := -1
			if room > 0 {
				cut = bytes.LastIndexByte(p[:room], '\n')
			}
			switch {
			case cut >= 0:
				chunk = p[:cut+1]
			case r.size > 0:
				if err := r.rotate(); err != nil {
					return written, err
				}
				continue
			default:
				chunk = p[:r.max]
			}
		}
		n, err := r.f.Write(chunk)
		r.size += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// rotate shifts NAME.log.i to NAME.log.i+1 and reopens NAME.log empty.
func (r *rotator) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotating log %s: %w", r.path, err)
	}
	r.f = nil
	if r.keep <= 0 {
		if err := os.Remove(r.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating log %s: %w", r.path, err)
		}
		return r.open()
	}
	for i := r.keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating log %s: %w", r.path, err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("rotating log %s: %w", r.path, err)
	}
	return r.open()
}

// Close closes the current file.
func (r *rotator) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

var _ io.WriteCloser = (*rotator)(nil)

// LogPath returns the current log file of service name under dir.
func LogPath(dir, name string) string { return filepath.Join(dir, name+".log") }
