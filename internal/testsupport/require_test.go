package testsupport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder stands in for the testing.TB given to the helpers and records
// whether they skipped or failed, without ending this test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

func TestRequire(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/nonexistent-dir")
	cases := []struct {
		name     string
		ci       string
		call     func(testing.TB)
		wantSkip bool
		wantFail bool
		wantMsg  string
	}{
		{name: "missing tool skips locally", call: func(tb testing.TB) { RequireTool(tb, "bwrap", "apt-get install bubblewrap") },
			wantSkip: true, wantMsg: "bwrap not installed: apt-get install bubblewrap"},
		{name: "missing tool fails in CI", ci: "1", call: func(tb testing.TB) { RequireTool(tb, "bwrap", "apt-get install bubblewrap") },
			wantFail: true, wantMsg: "bwrap not installed: apt-get install bubblewrap (CI is set: a missing prerequisite fails the test; `make deps` installs it)"},
		{name: "CI=false is local", ci: "false", call: func(tb testing.TB) { RequireTool(tb, "python3", "apt-get install python3") },
			wantSkip: true, wantMsg: "python3 not installed: apt-get install python3"},
		{name: "tool by absolute path is found", ci: "1", call: func(tb testing.TB) { RequireTool(tb, self, "n/a") }},
		{name: "unavailable fails in CI", ci: "true", call: func(tb testing.TB) { Unavailable(tb, "no %s", "seccomp filter") },
			wantFail: true, wantMsg: "no seccomp filter (CI is set"},
		{name: "root required in CI", ci: "1", call: func(tb testing.TB) { RequireRoot(tb, "chroot") },
			wantFail: os.Geteuid() != 0, wantMsg: map[bool]string{true: "", false: "chroot needs root: run the tests as root (CI does) (CI is set"}[os.Geteuid() == 0]},
		{name: "root required locally", call: func(tb testing.TB) { RequireRoot(tb, "chroot") },
			wantSkip: os.Geteuid() != 0, wantMsg: map[bool]string{true: "", false: "chroot needs root"}[os.Geteuid() == 0]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			tc.call(r)
			if r.skipped != tc.wantSkip || r.failed != tc.wantFail {
				t.Fatalf("skipped=%v failed=%v (%q), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, tc.wantSkip, tc.wantFail)
			}
			if len(r.msg) < len(tc.wantMsg) || r.msg[:len(tc.wantMsg)] != tc.wantMsg {
				t.Errorf("message = %q, want it to start with %q", r.msg, tc.wantMsg)
			}
		})
	}
}

func TestHostFile(t *testing.T) {
	dir := t.TempDir()
	p := HostFile(t, dir)
	if b, err := os.ReadFile(p); err != nil || string(b) != "host secret\n" {
		t.Fatalf("HostFile(%s) = %s: %q %v", dir, p, b, err)
	}
	t.Setenv("CI", "1")
	r := &recorder{TB: t}
	HostFile(r, filepath.Join(dir, "missing"))
	if !r.failed || !strings.Contains(r.msg, "no file under") {
		t.Fatalf("HostFile of a missing dir in CI: failed=%v %q", r.failed, r.msg)
	}
}

// TestAccept checks the listener answers, closes each connection and
// counts it (the count is raised before the close the client sees).
func TestAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := Accept(t, ln)
	for i := int32(1); i <= 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dialing the test listener: %v", err)
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("reading until the server closes: %v", err)
		}
		c.Close()
		if got := n.Load(); got != i {
			t.Errorf("accepted %d connections, want %d", got, i)
		}
	}
	if _, err := net.Dial("tcp", Listen(t).Addr().String()); err != nil {
		t.Errorf("dialing Listen's listener: %v", err)
	}
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

// TestGolden checks -update writes the file, an equal output passes and a
// different one fails naming the file and -update.
func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	r := &recorder{TB: t}
	Golden(r, path, []byte("one\n"), true)
	if r.failed {
		t.Fatalf("writing the golden file failed: %s", r.msg)
	}
	if want := Golden(r, path, []byte("one\n"), false); r.failed || string(want) != "one\n" {
		t.Fatalf("equal output: failed=%v %q, want pass returning the file", r.failed, r.msg)
	}
	Golden(r, path, []byte("two\n"), false)
	if !r.failed || !strings.Contains(r.msg, path) || !strings.Contains(r.msg, "-update") {
		t.Errorf("different output: failed=%v %q, want a failure naming %s and -update", r.failed, r.msg, path)
	}
}

func TestWantErr(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		want       string
		done, fail bool
	}{
		{"no error wanted, none", nil, "", false, false},
		{"no error wanted, one", errors.New("boom"), "", false, true},
		{"error wanted, matching", errors.New("opening x: boom"), "boom", true, false},
		{"error wanted, other", errors.New("bang"), "boom", true, true},
		{"error wanted, none", nil, "boom", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			done := WantErr(r, tc.err, tc.want)
			if r.failed != tc.fail || (!tc.fail && done != tc.done) {
				t.Errorf("WantErr = %v, failed %v (%s); want %v, failed %v", done, r.failed, r.msg, tc.done, tc.fail)
			}
		})
	}
}
