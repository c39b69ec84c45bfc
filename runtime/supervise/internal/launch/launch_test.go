package launch

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestReadStatus checks how the launcher's reports, up to EOF, read.
func TestReadStatus(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"exec then EOF", "exec\n", ""},
		{"error before exec", "error sandboxing /r: EPERM\n", "sandboxing /r: EPERM"},
		{"exec failed", "exec\nerror no such file or directory\n", "no such file or directory"},
		{"died before exec", "", "launcher exited before starting the service"},
		{"unknown report", "hello\n", `launcher said "hello"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := w.WriteString(tc.in); err != nil {
				t.Fatal(err)
			}
			w.Close()
			err = readStatus(r)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("readStatus = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("readStatus = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestNewLayout checks the launcher's descriptors: the service's files by
// number, then the control and status pipes, named in its arguments.
func TestNewLayout(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	l, err := New(Spec{Name: "svc"}, []*os.File{devnull, devnull, devnull, nil, devnull})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Abort()
	if want := []string{"undistro-init", Arg, "5", "6", "svc"}; !slices.Equal(l.Args, want) {
		t.Errorf("args = %q, want %q", l.Args, want)
	}
	if len(l.Attr.Files) != 7 || l.Attr.Files[5] != l.ctlR || l.Attr.Files[6] != l.statW {
		t.Errorf("files = %v, want the service's 5 then the control and status pipes", l.Attr.Files)
	}
}

// TestStartConfined checks a command started confined lacks the dropped
// capabilities in its bounding set, and the caller keeps them.
func TestStartConfined(t *testing.T) {
	testsupport.RequireRoot(t, "dropping capabilities")
	capBnd := func(status string) uint64 {
		for line := range strings.Lines(status) {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatalf("no CapBnd in %q", status)
		return 0
	}
	var out strings.Builder
	cmd := exec.Command("/bin/cat", "/proc/self/status")
	cmd.Stdout = &out
	if err := StartConfined(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	got := capBnd(out.String())
	for _, c := range dropped {
		if got&(1<<c) != 0 {
			t.Errorf("confined command's bounding set %x has capability %d", got, c)
		}
	}
	// The confining thread is discarded: what starts next has them.
	out.Reset()
	plain := exec.Command("/bin/cat", "/proc/self/status")
	plain.Stdout = &out
	if err := plain.Run(); err != nil {
		t.Fatal(err)
	}
	if got := capBnd(out.String()); got&(1<<unix.CAP_SYS_ADMIN) == 0 {
		t.Errorf("a command started afterwards lacks CAP_SYS_ADMIN (bounding set %x)", got)
	}
}
