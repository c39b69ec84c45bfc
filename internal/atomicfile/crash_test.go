package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain doubles as the crash child: with ATOMICFILE_CRASH_CHILD=DIR it
// replaces DIR/f, dying wherever UNDISTRO_CRASH_AT says.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ATOMICFILE_CRASH_CHILD"); dir != "" {
		if err := WriteFile(filepath.Join(dir, "f"), []byte("new"), 0o644, Step("t")); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCrash kills a replacing write at each of its steps: afterwards the
// file holds the old content or the new, never a mix, and only temp names
// ([IsTemp]) are left over.
func TestCrash(t *testing.T) {
	run := func(dir string, env ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), append(env, "ATOMICFILE_CRASH_CHILD="+dir)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	trace, err := run(setup(t), "UNDISTRO_CRASH_TRACE=1")
	if err != nil {
		t.Fatalf("child: %v\n%s", err, trace)
	}
	want := "crash point 1 t.create\ncrash point 2 t.write\ncrash point 3 t.fsync\ncrash point 4 t.rename\ncrash point 5 t.dirsync\n"
	if trace != want {
		t.Fatalf("trace = %q, want %q", trace, want)
	}
	seen := map[string]bool{}
	for i := 1; i <= 5; i++ {
		dir := setup(t)
		// Killed at the point, not failed (exit 3) nor done.
		stderr, err := run(dir, "UNDISTRO_CRASH_AT="+string(rune('0'+i)))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("point %d: child was not killed: %v\n%s", i, err, stderr)
		}
		b, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil || (string(b) != "old" && string(b) != "new") {
			t.Fatalf("point %d: f = %q, %v; want old or new", i, b, err)
		}
		seen[string(b)] = true
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != "f" && !IsTemp(e.Name()) {
				t.Errorf("point %d: %s left, not a temp name", i, e.Name())
			}
		}
	}
	if !seen["old"] || !seen["new"] {
		t.Errorf("crashes left only %v", seen)
	}
}
