package testsupport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI (the environment variable CI is
// set to anything but "" or "false").
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false"
}

// Unavailable reports that something the test needs is missing: it skips
// the test, or fails it when [InCI]. The message should say what is
// missing and how to get it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI is set: a missing prerequisite fails the test; `make deps` installs it)", msg)
		return
	}
	t.Skip(msg)
}

// RequireTool returns the path of the executable tool found in PATH. When
// it is missing the test is skipped, or fails when [InCI], with hint (how
// to install it, such as "apt-get install bubblewrap").
func RequireTool(t testing.TB, tool, hint string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		Unavailable(t, "%s not installed: %s", tool, hint)
		return ""
	}
	return p
}

// RequireRoot skips the test unless it runs as root, or fails it when
// [InCI]; why says what needs root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "%s needs root: run the tests as root (CI does)", why)
	}
}

// SkipShort skips the test under -short, in CI too: a short run is a
// choice. why says what makes the test long.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: skipped under -short", why)
	}
}

// HostFile returns a regular file in a directory of its own under dir (such
// as /home): a fresh one, removed at the end of the test, when dir is
// writable (CI runs as root), else the first regular file found one level
// down in an existing subdirectory. Tests use it to check that a sandbox
// hides what the host holds there. When there is neither, the test is
// [Unavailable].
func HostFile(t testing.TB, dir string) string {
	t.Helper()
	if d, err := os.MkdirTemp(dir, "undistro-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		p := filepath.Join(d, "secret")
		if err := os.WriteFile(p, []byte("host secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	subs, _ := os.ReadDir(dir)
	for _, s := range subs {
		if !s.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, s.Name()))
		for _, f := range files {
			if f.Type().IsRegular() {
				return filepath.Join(dir, s.Name(), f.Name())
			}
		}
	}
	Unavailable(t, "no file under %s to hide, and %s is not writable: run the tests as root (CI does)", dir, dir)
	return ""
}
