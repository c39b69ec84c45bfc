package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"
)

// Epoch is the modification time of every entry Tar writes.
var Epoch = time.Unix(1700000000, 0)

// Entry is one entry of a test layer.
type Entry struct {
	Name, Body, Link string
	Type             byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	Mode             int64
}

// File, Dir, Symlink and Hardlink make entries with the usual modes.
func File(name, body string) Entry {
	return Entry{Name: name, Body: body, Type: tar.TypeReg, Mode: 0o644}
}

// Dir is a directory entry, mode 0755.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Link: target, Type: tar.TypeSymlink, Mode: 0o777}
}

// Hardlink is a hard link to target (a name in the same layer).
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Link: target, Type: tar.TypeLink, Mode: 0o644}
}

// Tar returns an uncompressed PAX tar of entries, in order, all dated
// [Epoch].
func Tar(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode, ModTime: Epoch, Format: tar.FormatPAX}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
