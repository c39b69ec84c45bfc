package etcmerge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

func item(p, data string) Item { return NewItem(Entry{Path: p, Mode: 0o644}, []byte(data)) }

func want(items ...Item) map[string]Item {
	m := map[string]Item{}
	for _, it := range items {
		m[it.Path] = it
	}
	return m
}

// install makes A the installed base of a fresh node and returns it.
func installed(t *testing.T, a map[string]Item) *Etc {
	t.Helper()
	e := Open(t.TempDir())
	m, err := e.Plan(a, imagespec.ConfigPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), m, "A"); err != nil {
		t.Fatal(err)
	}
	return e
}

func read(t *testing.T, e *Etc, p string) string {
	t.Helper()
	b, err := os.ReadFile(e.Live(p))
	if errors.Is(err, os.ErrNotExist) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMerge(t *testing.T) {
	const f = "/etc/app/app.conf"
	tests := []struct {
		name    string
		a, b    map[string]Item
		local   *string // nil: untouched; "": removed
		policy  string
		action  string // the decision for f ("" none)
		content string // f after the merge
		err     string
	}{
		{name: "image change, no edit", a: want(item(f, "v1")), b: want(item(f, "v2")), action: Update, content: "v2"},
		{name: "edit kept, image did not change", a: want(item(f, "v1")), b: want(item(f, "v1"), item("/etc/other", "x")), local: ptr("mine"), action: KeepLocal, content: "mine"},
		{name: "local removal kept", a: want(item(f, "v1")), b: want(item(f, "v1")), local: ptr(""), action: KeepLocal, content: "<absent>"},
		{name: "conflict refuse (default)", a: want(item(f, "v1")), b: want(item(f, "v2")), local: ptr("mine"), action: Refuse, content: "mine", err: "/etc/app/app.conf edited on this node and changed by the image"},
		{name: "conflict keep", a: want(item(f, "v1")), b: want(item(f, "v2")), local: ptr("mine"), policy: "keep", action: KeepLocal, content: "mine"},
		{name: "conflict image", a: want(item(f, "v1")), b: want(item(f, "v2")), local: ptr("mine"), policy: "image", action: TakeImage, content: "v2"},
		{name: "image removes, no edit", a: want(item(f, "v1")), b: want(), action: Remove, content: "<absent>"},
		{name: "image removes edited, keep", a: want(item(f, "v1")), b: want(), local: ptr("mine"), policy: "keep", action: KeepLocal, content: "mine"},
		{name: "image removes edited, refuse", a: want(item(f, "v1")), b: want(), local: ptr("mine"), action: Refuse, content: "mine", err: "refuse"},
		{name: "edit equals new image", a: want(item(f, "v1")), b: want(item(f, "v2")), local: ptr("v2"), action: Update, content: "v2"},
		{name: "image adds a file the operator created", a: want(), b: want(item(f, "v2")), local: ptr("mine"), policy: "image", action: TakeImage, content: "v2"},
		{name: "new file", a: want(), b: want(item(f, "v2")), action: Add, content: "v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := installed(t, tc.a)
			if tc.local != nil {
				if *tc.local == "" {
					if err := os.Remove(e.Live(f)); err != nil {
						t.Fatal(err)
					}
				} else {
					if err := os.MkdirAll(filepath.Dir(e.Live(f)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(e.Live(f), []byte(*tc.local), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			m, err := e.Plan(tc.b, imagespec.ConfigPolicy{Merge: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, d := range m.Decisions {
				if d.Path == f {
					got = d.Action
				}
			}
			if got != tc.action {
				t.Errorf("decision for %s = %q, want %q (%+v)", f, got, tc.action, m.Decisions)
			}
			_, err = e.Apply(context.Background(), m, "B")
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrConflict)):
				t.Fatalf("Apply error = %v, want one containing %q wrapping ErrConflict", err, tc.err)
			}
			if c := read(t, e, f); c != tc.content {
				t.Errorf("%s = %q, want %q", f, c, tc.content)
			}
			if tc.err != "" {
				// A refused merge changes nothing, the base included.
				mf, _ := e.Manifest()
				if mf.Image != "A" {
					t.Errorf("refused merge moved the base to %q", mf.Image)
				}
				return
			}
			// After the merge, local equals base unless an edit was kept:
			// a second merge of the same image decides nothing new.
			m2, err := e.Plan(tc.b, imagespec.ConfigPolicy{Merge: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range m2.Decisions {
				if d.Action != KeepLocal {
					t.Errorf("second merge: %+v", d)
				}
			}
		})
	}
}

func TestRefuseNamesEveryFile(t *testing.T) {
	e := installed(t, want(item("/etc/a", "1"), item("/etc/b", "1")))
	for _, p := range []string{"/etc/a", "/etc/b"} {
		if err := os.WriteFile(e.Live(p), []byte("edit"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := e.Plan(want(item("/etc/a", "2"), item("/etc/b", "2")), imagespec.ConfigPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Err()
	if err == nil || !strings.Contains(err.Error(), "/etc/a, /etc/b") {
		t.Fatalf("Err = %v, want both files named", err)
	}
}

func TestSymlinkInTreeIsNotFollowed(t *testing.T) {
	e := installed(t, want())
	outside := t.TempDir()
	if err := os.MkdirAll(e.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.Dir(), "app")); err != nil {
		t.Fatal(err)
	}
	m, err := e.Plan(want(item("/etc/app/app.conf", "x")), imagespec.ConfigPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), m, "B"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Apply through a symlinked directory: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside /etc: %v", ents)
	}
}

func TestPlanRejectsPathsOutsideEtc(t *testing.T) {
	e := Open(t.TempDir())
	if _, err := e.Plan(want(item("/etc/../root/x", "x")), imagespec.ConfigPolicy{}); err == nil {
		t.Fatal("Plan accepted a path outside /etc")
	}
	if _, err := e.Plan(want(), imagespec.ConfigPolicy{Merge: "merge"}); err == nil || !strings.Contains(err.Error(), `merge policy "merge"`) {
		t.Fatalf("bad policy: %v", err)
	}
}

func ptr(s string) *string { return &s }

// TestInterruptedMerge: a merge to B that a crash stopped after writing
// some files (its next manifest on disk) is not taken for local edits: a
// merge back to A restores A's files, one to B completes.
func TestInterruptedMerge(t *testing.T) {
	const f, g = "/etc/f", "/etc/g"
	a := want(item(f, "a"), item(g, "a"))
	b := want(item(f, "b"), item(g, "b"), item("/etc/new", "b"))
	for _, to := range []struct {
		name string
		img  map[string]Item
		f, g string
	}{{"back to A", a, "a", "a"}, {"on to B", b, "b", "b"}} {
		t.Run(to.name, func(t *testing.T) {
			e := installed(t, a)
			next := &Manifest{Image: "B", Entries: map[string]Entry{}}
			for p, it := range b {
				next.Entries[p] = it.Entry
			}
			if err := e.writeManifest(e.nextPath(), next, "t"); err != nil {
				t.Fatal(err)
			}
			// The crash came after f and /etc/new were written, before g.
			for _, p := range []string{f, "/etc/new"} {
				if err := os.WriteFile(e.Live(p), []byte("b"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := e.Plan(to.img, imagespec.ConfigPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range m.Decisions {
				if d.LocalEdit {
					t.Errorf("the interrupted merge's write taken for a local edit: %+v", d)
				}
			}
			if _, err := e.Apply(context.Background(), m, "X"); err != nil {
				t.Fatal(err)
			}
			if read(t, e, f) != to.f || read(t, e, g) != to.g {
				t.Fatalf("f=%q g=%q, want %q %q", read(t, e, f), read(t, e, g), to.f, to.g)
			}
			wantNew := "<absent>"
			if to.name == "on to B" {
				wantNew = "b"
			}
			if got := read(t, e, "/etc/new"); got != wantNew {
				t.Fatalf("/etc/new = %q, want %q", got, wantNew)
			}
			if _, err := os.Stat(e.nextPath()); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("next manifest left: %v", err)
			}
		})
	}
}

// TestDirectories: the image's directories exist in ROOT/etc, empty ones
// included, with their mode; they are not merged or recorded.
func TestDirectories(t *testing.T) {
	e := installed(t, want())
	w := want(item("/etc/app/app.conf", "x"))
	w["/etc/crontabs"] = Item{Entry: Entry{Path: "/etc/crontabs", Dir: true, Mode: 0o700}}
	w["/etc/app"] = Item{Entry: Entry{Path: "/etc/app", Dir: true, Mode: 0o750}}
	m, err := e.Plan(w, imagespec.ConfigPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), m, "B"); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"/etc/crontabs": 0o700, "/etc/app": 0o750} {
		fi, err := os.Stat(e.Live(p))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want a directory %o", p, fi, err, mode)
		}
	}
	mf, _ := e.Manifest()
	if _, ok := mf.Entries["/etc/crontabs"]; ok || len(mf.Entries) != 1 {
		t.Fatalf("manifest %+v", mf.Entries)
	}
}
