// Package sandboxprobe reads and judges what the sandbox probe (the test
// program in runtime/supervise/testdata/probe, run as a service) reports:
// the tests of the service sandbox, in runtime/supervise and end to end
// under `undistro node run`, share these expectations.
package sandboxprobe

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Source is the probe's source directory, relative to the repository.
const Source = "runtime/supervise/testdata/probe"

// Result is the line the probe prints.
type Result struct {
	UID, EUID  int
	Status     map[string]string
	Checks     map[string]string
	FDs        []string
	SetuidExec string
	Tasks      int
	Allocated  int
	// Mounts are the mounts lacking nosuid, nodev or noexec where the
	// sandbox must have them.
	Mounts []string
}

// Checks are the attempts the probe makes, each refused by default.
var Checks = []string{
	"write_core_pattern", "write_hostname", "write_ip_forward", "open_sysrq_trigger", "read_kcore",
	"read_kallsyms_addresses", "sethostname", "af_packet", "unshare_user", "keyctl_host_key",
	"shmat_host_segment", "connect_host_loopback", "bind_port_80", "exec_from_tmp", "mount_tmpfs",
	"nice_minus_20", "bpf", "perf_event_open", "io_uring_setup", "syslog_read", "init_module",
}

// Parse returns the last result line in a service's log.
func Parse(log string) (*Result, error) {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			return nil, fmt.Errorf("parsing the probe's line %q: %w", lines[i], err)
		}
		return &r, nil
	}
	return nil, fmt.Errorf("no result line in the probe's log:\n%s", log)
}

// Expect is what a probe run must show.
type Expect struct {
	UID int
	// Caps is the capability mask every set (effective, permitted,
	// bounding, ambient) must equal; inheritable equals it too.
	Caps uint64
	// Allowed are the checks that must succeed; every other one must be
	// refused.
	Allowed []string
	// NoNewPrivs: want no_new_privs set (the default).
	NoNewPrivs bool
}

// Problems lists how r differs from e.
func Problems(r *Result, e Expect) []string {
	var out []string
	if r.UID != e.UID || r.EUID != e.UID {
		out = append(out, fmt.Sprintf("uid %d euid %d, want %d", r.UID, r.EUID, e.UID))
	}
	want := fmt.Sprintf("%016x", e.Caps)
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"} {
		if r.Status[k] != want {
			out = append(out, fmt.Sprintf("%s %s, want %s", k, r.Status[k], want))
		}
	}
	nnp := "0"
	if e.NoNewPrivs {
		nnp = "1"
	}
	if r.Status["NoNewPrivs"] != nnp {
		out = append(out, fmt.Sprintf("NoNewPrivs %s, want %s", r.Status["NoNewPrivs"], nnp))
	}
	if r.Status["Seccomp"] != "2" {
		out = append(out, fmt.Sprintf("Seccomp %s, want 2 (a filter)", r.Status["Seccomp"]))
	}
	for _, c := range Checks {
		got, ok := r.Checks[c]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: not tried", c))
		case slices.Contains(e.Allowed, c) && got != "allowed":
			out = append(out, fmt.Sprintf("%s: %s, want allowed (granted)", c, got))
		case !slices.Contains(e.Allowed, c) && !strings.HasPrefix(got, "refused"):
			out = append(out, fmt.Sprintf("%s: %s, want refused", c, got))
		}
	}
	if r.Mounts == nil || r.FDs == nil {
		out = append(out, "mounts or descriptors not reported: the probe is out of date")
	}
	if len(r.Mounts) > 0 {
		out = append(out, fmt.Sprintf("mounts %q, want nosuid and nodev everywhere, noexec on /tmp, /run and /dev/shm", r.Mounts))
	}
	if len(r.FDs) > 0 {
		out = append(out, fmt.Sprintf("inherited descriptors %q, want none", r.FDs))
	}
	// The setuid copy runs as the service's user: nosuid and
	// no_new_privs ignore the bit; and holds no capability.
	if w := "euid=" + strconv.Itoa(e.UID) + " capEff="; e.NoNewPrivs && !strings.HasPrefix(r.SetuidExec, w) {
		out = append(out, fmt.Sprintf("setuid exec said %q, want %s...", r.SetuidExec, w))
	}
	if c := " capEff=" + want; !strings.Contains(r.SetuidExec, c) {
		out = append(out, fmt.Sprintf("setuid exec said %q, want %s", r.SetuidExec, c))
	}
	return out
}
