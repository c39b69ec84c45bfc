package layer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestGNUTarReads checks that GNU tar lists and extracts a layer the way
// the Go reader does: same names, same link targets, same content.
func TestGNUTarReads(t *testing.T) {
	testsupport.RequireTool(t, "tar", "apt-get install tar")
	dir := t.TempDir()
	makeTree(t, dir, time.Now(), 0)
	_, blob := writeLayer(t, dir, Options{Epoch: testEpoch})
	p := filepath.Join(t.TempDir(), "layer.tar.gz")
	if err := os.WriteFile(p, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "-tzf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -t: %v: %s", err, out)
	}
	var want []string
	for _, e := range readTar(t, blob, testEpoch) {
		want = append(want, e.Name)
	}
	if got := strings.Fields(string(out)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("GNU tar lists\n%s\nGo reads\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	x := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", p, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v: %s", err, out)
	}
	for _, f := range []string{"usr/bin/hello", "usr/bin/hello2", longName} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, err := os.ReadFile(filepath.Join(x, f))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s extracted as %q (%v), want %q", f, b, err, a)
		}
	}
	a, _ := os.Stat(filepath.Join(x, "usr/bin/hello"))
	b, _ := os.Stat(filepath.Join(x, "usr/bin/hello2"))
	if !os.SameFile(a, b) {
		t.Error("hello2 is not a hardlink of hello after GNU tar extraction")
	}
	if target, _ := os.Readlink(filepath.Join(x, "usr/bin/hi")); target != "hello" {
		t.Errorf("hi -> %q", target)
	}
	if a.ModTime().Unix() != testEpoch {
		t.Errorf("mtime %v, want epoch", a.ModTime())
	}
}
