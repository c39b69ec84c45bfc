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
	if err := StartConfined(cmd, Confinement{Legacy: true}); err != nil {
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

// TestCloseInherited checks both ways of closing inherited descriptors at
// exec leave stdio and the kept ones open, and mark the rest.
func TestCloseInherited(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func([]int) error
	}{{"close_range", closeRanges}, {"one by one", closeListed}} {
		t.Run(tc.name, func(t *testing.T) {
			var p [2]int
			if err := unix.Pipe2(p[:], 0); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			if err := tc.close([]int{p[1]}); err != nil {
				t.Fatal(err)
			}
			flags := func(fd int) int {
				f, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			if flags(p[0])&unix.FD_CLOEXEC == 0 {
				t.Errorf("fd %d not marked close-on-exec", p[0])
			}
			if flags(p[1])&unix.FD_CLOEXEC != 0 {
				t.Errorf("kept fd %d marked close-on-exec", p[1])
			}
			if flags(2)&unix.FD_CLOEXEC != 0 {
				t.Error("stderr marked close-on-exec")
			}
		})
	}
}
