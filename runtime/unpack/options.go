package unpack

import (
	"fmt"

	"github.com/un-distro/undistro/internal/archive"
)

// Options says what Unpack allows. The zero value is valid: no privileged
// paths and the default limits.
type Options struct {
	// Privileged lists paths ("/usr/bin/su", or "usr/bin/su") that may carry
	// setuid/setgid bits or be device nodes or fifos. Default: none.
	Privileged []string
	// MaxFileSize is the largest regular file in bytes. 0 means
	// archive.DefaultMaxFileSize (4 GiB).
	MaxFileSize int64
	// MaxTotalSize is the largest sum of regular file sizes in bytes. 0
	// means archive.DefaultMaxTotalSize (64 GiB).
	MaxTotalSize int64
	// MaxEntries is the largest number of tar entries. 0 means
	// archive.DefaultMaxEntries (1<<20).
	MaxEntries int
}

// rules are the shared rules (internal/archive) these options ask for.
func (o Options) rules() archive.Rules {
	return archive.Rules{Privileged: o.Privileged, MaxFileSize: o.MaxFileSize, MaxTotalSize: o.MaxTotalSize, MaxEntries: o.MaxEntries}
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

// refuse refuses an entry for what only the writer can see (the disk).
func refuse(entry string, rule archive.Rule, format string, args ...any) error {
	return &archive.Error{Entry: entry, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}
