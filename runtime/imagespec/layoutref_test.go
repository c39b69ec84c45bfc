package imagespec

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitLayoutRef(t *testing.T) {
	dir := t.TempDir()
	colon := filepath.Join(dir, "a:b")
	if err := os.Mkdir(colon, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, spec, path, role string }{
		{"path and role", dir + ":web", dir, "web"},
		{"path only", dir, dir, ""},
		{"directory with a colon", colon, colon, ""},
		{"directory with a colon and a role", colon + ":web", colon, "web"},
		{"missing path keeps the split", "/nope/out:base", "/nope/out", "base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r := SplitLayoutRef(tc.spec)
			if p != tc.path || r != tc.role {
				t.Fatalf("SplitLayoutRef(%q) = %q, %q; want %q, %q", tc.spec, p, r, tc.path, tc.role)
			}
		})
	}
}
