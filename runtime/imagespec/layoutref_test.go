package imagespec

import (
	"strings"
	"testing"
)

func TestSplitLayoutRef(t *testing.T) {
	// dirs stands in for the caller's disk check: SplitLayoutRef reads
	// nothing itself.
	dirs := map[string]bool{"/d": true, "/d/a:b": true}
	isDir := func(p string) bool { return dirs[p] }
	for _, tc := range []struct {
		name, spec string
		isDir      func(string) bool
		path, role string
	}{
		{"path and role", "/d:web", isDir, "/d", "web"},
		{"path only", "/d", isDir, "/d", ""},
		{"directory with a colon", "/d/a:b", isDir, "/d/a:b", ""},
		{"directory with a colon and a role", "/d/a:b:web", isDir, "/d/a:b", "web"},
		{"missing path keeps the split", "/nope/out:base", isDir, "/nope/out", "base"},
		{"no check: always split", "/d/a:b", nil, "/d/a", "b"},
		{"no check, no colon", "out", nil, "out", ""},
		{"empty role", "out:", nil, "out", ""},
		{"empty", "", nil, "", ""},
		{"colon in a parent directory", "/a:b/out", nil, "/a:b/out", ""},
		{"colon in a parent directory and a role", "/a:b/out:web", nil, "/a:b/out", "web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r := SplitLayoutRef(tc.spec, tc.isDir)
			if p != tc.path || r != tc.role {
				t.Fatalf("SplitLayoutRef(%q) = %q, %q; want %q, %q", tc.spec, p, r, tc.path, tc.role)
			}
		})
	}
}

// TestSplitLayoutRefReadsNothing: a real directory whose name looks like
// PATH:ROLE is split all the same when the caller checks nothing.
func TestSplitLayoutRefReadsNothing(t *testing.T) {
	if p, r := SplitLayoutRef(t.TempDir()+":x", nil); r != "x" || p == "" {
		t.Fatalf("SplitLayoutRef = %q, %q", p, r)
	}
	calls := 0
	SplitLayoutRef("a:b", func(string) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("isDir called %d times, want once (with the whole spec)", calls)
	}
}

// FuzzSplitLayoutRef: the parts always join back into the spec, and a role
// holds neither a colon nor a slash.
func FuzzSplitLayoutRef(f *testing.F) {
	for _, s := range []string{"out", "out:web", "/a:b/out:web", "/a:b/out", "", ":", "a::b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		path, role := SplitLayoutRef(spec, nil)
		if strings.ContainsAny(role, ":/") {
			t.Fatalf("role %q of %q holds : or /", role, spec)
		}
		if joined := path + ":" + role; joined != spec && path != spec {
			t.Fatalf("SplitLayoutRef(%q) = %q, %q: does not join back", spec, path, role)
		}
	})
}
