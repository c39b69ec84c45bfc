package drift

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestHunksApply checks writeHunks' output against git apply for the edge
// cases: no trailing newline on either side, empty files, far-apart edits.
func TestHunksApply(t *testing.T) {
	git := testsupport.RequireTool(t, "git", "apt-get install git")
	long := strings.Repeat("line\n", 30)
	tests := []struct{ name, a, b string }{
		{"change", "a\nb\nc\n", "a\nB\nc\n"},
		{"add no newline", "a\n", "a\nb"},
		{"remove no newline", "a\nb", "a\n"},
		{"both no newline", "a\nb", "a\nc"},
		{"from empty", "", "x\ny\n"},
		{"to empty", "x\ny\n", ""},
		{"two hunks", "first\n" + long + "last\n", "FIRST\n" + long + "LAST\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte(tc.a), 0o644); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString("--- a/f\n+++ b/f\n")
			if err := writeHunks(&b, []byte(tc.a), []byte(tc.b)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "p"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(git, "apply", "--unsafe-paths", "p")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git apply: %v: %s\npatch:\n%s", err, out, b.String())
			}
			got, _ := os.ReadFile(filepath.Join(dir, "f"))
			if string(got) != tc.b {
				t.Fatalf("applied: %q, want %q\npatch:\n%s", got, tc.b, b.String())
			}
		})
	}
}
