package launch

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"exit 0", "exit 0", "exit status 0"},
		{"exit 3", "exit 3", "exit status 3"},
		{"terminated", "signal 15", "signal: terminated"},
		{"killed", "signal 9", "signal: killed"},
		{"not a number", "exit x", "exit x"},
		{"unknown kind", "gone 1", "gone 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(tc.in); got != tc.want {
				t.Errorf("describe(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name     string
		ws       unix.WaitStatus
		want     string
		wantCode int
	}{
		{"exit 0", 0, "exit 0", 0},
		{"exit 7", 7 << 8, "exit 7", 7},
		{"SIGTERM", unix.WaitStatus(unix.SIGTERM), "signal 15", 128 + 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, code := result(tc.ws)
			if got != tc.want || code != tc.wantCode {
				t.Errorf("result = %q, %d; want %q, %d", got, code, tc.want, tc.wantCode)
			}
		})
	}
}

func TestSpecFds(t *testing.T) {
	none := ^uintptr(0)
	tests := []struct {
		name string
		fds  []int
		want []uintptr
	}{
		{"stdio", []int{0, 1, 2}, []uintptr{0, 1, 2}},
		{"notify fd 5", []int{0, 1, 2, 5}, []uintptr{0, 1, 2, none, none, 5}},
		{"none", nil, []uintptr{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Fds: tc.fds}
			if got := s.fds(); !slices.Equal(got, tc.want) {
				t.Errorf("fds() = %v, want %v", got, tc.want)
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
	if want := []int{0, 1, 2, 4}; !slices.Equal(l.spec.Fds, want) {
		t.Errorf("spec fds = %v, want %v", l.spec.Fds, want)
	}
	if len(l.Attr.Files) != 7 || l.Attr.Files[5] != l.ctlR || l.Attr.Files[6] != l.statW {
		t.Errorf("files = %v, want the service's 5 then the control and status pipes", l.Attr.Files)
	}
}
