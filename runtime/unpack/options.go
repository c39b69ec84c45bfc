package unpack

import (
	"errors"
	"fmt"
)

// Default limits. A layer is a package or a role's config files; these are
// far above any real one and far below what would fill a node's disk by
// surprise.
const (
	// DefaultMaxFileSize is the largest regular file accepted: 4 GiB.
	DefaultMaxFileSize int64 = 4 << 30
	// DefaultMaxTotalSize is the largest sum of regular file sizes: 64 GiB.
	DefaultMaxTotalSize int64 = 64 << 30
	// DefaultMaxEntries is the largest number of tar entries: 1<<20.
	DefaultMaxEntries = 1 << 20
)

// Options says what Unpack allows. The zero value is valid: no privileged
// paths and the default limits.
type Options struct {
	// Privileged lists paths ("/usr/bin/su", or "usr/bin/su") that may carry
	// setuid/setgid bits or be device nodes or fifos. Default: none.
	Privileged []string
	// MaxFileSize is the largest regular file in bytes. 0 means
	// DefaultMaxFileSize (4 GiB).
	MaxFileSize int64
	// MaxTotalSize is the largest sum of regular file sizes in bytes. 0
	// means DefaultMaxTotalSize (64 GiB).
	MaxTotalSize int64
	// MaxEntries is the largest number of tar entries. 0 means
	// DefaultMaxEntries (1<<20).
	MaxEntries int
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxFileSize < 0 || o.MaxTotalSize < 0 || o.MaxEntries < 0 {
		return o, fmt.Errorf("unpack options: negative limit (MaxFileSize %d, MaxTotalSize %d, MaxEntries %d): use 0 for the default", o.MaxFileSize, o.MaxTotalSize, o.MaxEntries)
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxTotalSize == 0 {
		o.MaxTotalSize = DefaultMaxTotalSize
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o, nil
}

// Stats describes what Unpack did.
type Stats struct {
	Entries   int   // tar entries read, whiteouts included
	Files     int   // regular files written
	Dirs      int   // directories created
	Symlinks  int   // symlinks created
	Hardlinks int   // hardlinks created
	Special   int   // devices and fifos created
	Bytes     int64 // bytes of regular file content written
	// Whiteouts are paths (slash-separated, relative to the root, no
	// leading slash) deleted from lower layers by ".wh.NAME" entries.
	Whiteouts []string `json:",omitempty"`
	// Opaque are directories (same form) whose lower-layer contents are
	// hidden by a ".wh..wh..opq" entry.
	Opaque []string `json:",omitempty"`
	// Privileged are the paths that needed Options.Privileged (setuid,
	// setgid, devices, fifos). A layer shared by several images must be
	// checked against each image's own list.
	Privileged []string `json:",omitempty"`
}

// ErrRefused matches every error that refuses a hostile entry.
var ErrRefused = errors.New("refused")

// Error is a refused tar entry.
type Error struct {
	Entry  string // the entry's name as it appears in the tar
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("refusing layer entry %q: %s", e.Entry, e.Reason) }

// Is makes errors.Is(err, ErrRefused) true.
func (e *Error) Is(target error) bool { return target == ErrRefused }

func refuse(entry, format string, args ...any) error {
	return &Error{Entry: entry, Reason: fmt.Sprintf(format, args...)}
}
