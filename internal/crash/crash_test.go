package crash

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("CRASH_TEST_CHILD") == "1" {
		for _, name := range []string{"one", "two", "three"} {
			Point(name)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPoint(t *testing.T) {
	tests := []struct {
		name       string
		at         string
		wantKilled bool
		wantTrace  string
	}{
		{name: "no crash", at: "", wantTrace: "crash point 1 one\ncrash point 2 two\ncrash point 3 three\n"},
		{name: "crash at second", at: "2", wantKilled: true, wantTrace: "crash point 1 one\ncrash point 2 two\n"},
		{name: "past the end", at: "9", wantTrace: "crash point 1 one\ncrash point 2 two\ncrash point 3 three\n"},
		{name: "garbage is ignored", at: "x", wantTrace: "crash point 1 one\ncrash point 2 two\ncrash point 3 three\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CRASH_TEST_CHILD=1", "UNDISTRO_CRASH_TRACE=1", "UNDISTRO_CRASH_AT="+tc.at)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			killed := false
			if ee, ok := err.(*exec.ExitError); ok {
				ws := ee.Sys().(syscall.WaitStatus)
				killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
				if !killed {
					t.Fatalf("child failed: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if killed != tc.wantKilled {
				t.Errorf("killed = %v, want %v", killed, tc.wantKilled)
			}
			if stderr.String() != tc.wantTrace {
				t.Errorf("trace = %q, want %q", stderr.String(), tc.wantTrace)
			}
		})
	}
}
