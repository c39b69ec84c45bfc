package seccomp

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a child that installs the filter with the
// additions it names (comma-separated) and reports what each call gives.
const childEnv = "SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if add, ok := os.LookupEnv(childEnv); ok {
		os.Exit(child(add))
	}
	os.Exit(m.Run())
}

// child tries each probed call under the filter and prints name → errno
// ("" when it succeeded).
func child(add string) int {
	runtime.LockOSThread()
	var additions []string
	if add != "" {
		additions = strings.Split(add, ",")
	}
	prog, err := Filter(additions)
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		err = Install(prog)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 2
	}
	errno := func(err error) string {
		if err == nil {
			return ""
		}
		return err.(unix.Errno).Error()
	}
	res := map[string]string{}
	_, _, e := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0) // KEY_SPEC_USER_KEYRING
	res["keyctl"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	res["unshare-user"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_FILES, 0, 0)
	res["unshare-files"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	res["clone3"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_SETNS, 0, 0, 0)
	res["setns"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_SYSLOG, 10, 0, 0) // SYSLOG_ACTION_SIZE_BUFFER
	res["syslog"] = errno(errOrNil(e))
	_, _, e = unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	res["getpid"] = errno(errOrNil(e))
	// An invalid time (negative nanoseconds): allowed, the kernel refuses it
	// with EINVAL and nothing changes.
	ts := unix.Timespec{Nsec: -1}
	_, _, e = unix.RawSyscall(unix.SYS_CLOCK_SETTIME, unix.CLOCK_REALTIME, uintptr(unsafePointer(&ts)), 0)
	res["clock_settime"] = errno(errOrNil(e))
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name      string
		additions string
		want      map[string]string
	}{
		{"default", "", map[string]string{
			"keyctl": "operation not permitted", "unshare-user": "operation not permitted",
			"clone3": "function not implemented", "setns": "operation not permitted",
			"syslog": "operation not permitted", "getpid": "", "unshare-files": "",
			"clock_settime": "operation not permitted",
		}},
		// Taken back, the calls reach the kernel, which refuses them for
		// its own reasons (no capability) or not at all.
		{"keyring and clock back", "@keyring,clock_settime", map[string]string{
			"keyctl": "!operation not permitted", "syslog": "operation not permitted",
			"clock_settime": "invalid argument",
		}},
		{"namespaces back", "@namespaces", map[string]string{
			"clone3": "!function not implemented", "setns": "!operation not permitted",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+tc.additions)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			var got map[string]string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("child said %q: %v", out, err)
			}
			for call, want := range tc.want {
				if not, ok := strings.CutPrefix(want, "!"); ok {
					if got[call] == not {
						t.Errorf("%s: got %q, want anything else", call, got[call])
					}
				} else if got[call] != want {
					t.Errorf("%s: got %q, want %q", call, got[call], want)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		wantErr string
	}{
		{"none", nil, ""},
		{"group", []string{"@clock"}, ""},
		{"call", []string{"ptrace"}, ""},
		{"unknown group", []string{"@clocks"}, `seccomp "@clocks": no such group`},
		{"allowed anyway", []string{"read"}, `seccomp "read": not a system call the default filter refuses`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.in)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check(%q) = %v, want %q", tc.in, err, tc.wantErr)
			}
		})
	}
}
