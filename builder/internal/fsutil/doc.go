// Package fsutil holds the builder's durable file-writing helpers: whole
// files written through a temp file in the same directory, fsynced and
// renamed (so a crash leaves the old content or the new, never half), and
// the directory and file-system syncs that make renames and freshly
// written trees durable. It is internal to the builder; the runtime keeps
// its own helpers so that it imports nothing from the builder.
package fsutil
