package drift

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/un-distro/undistro/runtime/etcmerge"
)

// File is a drifted file: recorded as edited and still not what the image
// installed.
type File struct {
	Path     string  `json:"path"`
	Record   *Record `json:"record"`
	Source   string  `json:"source,omitempty"` // images/ROLE/NAME, when a role file
	Template bool    `json:"template,omitempty"`
	Removed  bool    `json:"removed,omitempty"`
	// Diff turns the image's file into the local one (paths a/etc/...,
	// b/etc/...); "" for binary files.
	Diff   string `json:"diff"`
	Binary bool   `json:"binary,omitempty"`

	base, local []byte
}

// Report lists the drifted files of the node at root, sorted by path. It
// reads only the files the drift log names (it scans nothing).
func Report(root string) ([]File, error) {
	l, err := ReadLog(root)
	if err != nil {
		return nil, err
	}
	e := etcmerge.Open(root)
	m, err := e.Manifest()
	if err != nil {
		return nil, err
	}
	var out []File
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range l.Files {
			if !yield(p) {
				return
			}
		}
	}) {
		ent, ok := m.Entries[p]
		if !ok {
			continue // no longer managed (a switch dropped it)
		}
		st, err := etcmerge.Stat(e.Live(p))
		if err != nil {
			return nil, err
		}
		if same(st, ent) {
			continue
		}
		f := File{Path: p, Record: l.Files[p], Source: ent.Source, Template: ent.Template, Removed: !st.Exists}
		if f.base, err = content(e.Base(p), ent.Link); err != nil {
			return nil, fmt.Errorf("reading the image's %s: %w", p, err)
		}
		if st.Exists {
			if f.local, err = content(e.Live(p), st.Link); err != nil {
				return nil, fmt.Errorf("reading %s: %w", e.Live(p), err)
			}
		}
		if binary(f.base) || binary(f.local) {
			f.Binary = true
		} else {
			var b strings.Builder
			rel := strings.TrimPrefix(p, "/")
			to := "b/" + rel
			if f.Removed {
				to = "/dev/null"
			}
			fmt.Fprintf(&b, "--- a/%s\n+++ %s\n", rel, to)
			if err := writeHunks(&b, f.base, f.local); err != nil {
				return nil, err
			}
			f.Diff = b.String()
		}
		out = append(out, f)
	}
	return out, nil
}

func content(p string, link bool) ([]byte, error) {
	if link {
		t, err := os.Readlink(p)
		return []byte(t), err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Skipped is a drifted file a patch cannot carry, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// WritePatch writes files as a git patch against the recipes repository
// (each role file at its source, images/ROLE/NAME), which `git apply`
// accepts in a checkout of the commit the image was built from. Files it
// cannot carry are returned with the reason: not role files, templates
// (the edit is of the rendered output, not of the template), binary files.
func WritePatch(w io.Writer, files []File) ([]Skipped, error) {
	var skipped []Skipped
	for _, f := range files {
		switch {
		case f.Source == "":
			skipped = append(skipped, Skipped{f.Path, "not a role file (it comes from a package or is generated): declare it as a [[file]] of the role to manage it"})
			continue
		case f.Template:
			skipped = append(skipped, Skipped{f.Path, "rendered from the template " + f.Source + ": carry the edit into the template or the node's values by hand"})
			continue
		case f.Binary:
			skipped = append(skipped, Skipped{f.Path, "binary content"})
			continue
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "diff --git a/%s b/%s\n", f.Source, f.Source)
		to := "b/" + f.Source
		if f.Removed {
			b.WriteString("deleted file mode 100644\n") // the repository's mode, whatever the image's
			to = "/dev/null"
		}
		fmt.Fprintf(&b, "--- a/%s\n+++ %s\n", f.Source, to)
		if err := writeHunks(&b, f.base, f.local); err != nil {
			return nil, err
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return nil, err
		}
	}
	return skipped, nil
}
