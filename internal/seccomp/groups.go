package seccomp

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultProfile names the default filter, after systemd's set of the same
// name.
const DefaultProfile = "@system-service"

// cloneNewFlags are the clone/unshare flags that create a namespace.
const cloneNewFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// groups are the refused system calls by group, as systemd names them.
// @namespaces is special-cased in the filter (clone/unshare flags).
var groups = map[string][]string{
	"@clock":      {"adjtimex", "clock_adjtime", "clock_settime", "settimeofday"},
	"@debug":      {"ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "kcmp", "lookup_dcookie"},
	"@io-uring":   {"io_uring_setup", "io_uring_enter", "io_uring_register"},
	"@keyring":    {"keyctl", "add_key", "request_key"},
	"@module":     {"init_module", "finit_module", "delete_module"},
	"@mount":      {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"},
	"@namespaces": {"setns", "unshare", "clone3"},
	"@privileged": {"acct", "bpf", "quotactl", "syslog", "userfaultfd", "open_by_handle_at", "sethostname", "setdomainname", "vhangup"},
	"@raw-io":     rawIO,
	"@reboot":     {"reboot", "kexec_load", "kexec_file_load"},
	"@swap":       {"swapon", "swapoff"},
	"@obsolete":   obsolete,
}

// Groups returns the refused groups' names, sorted.
func Groups() []string { return slices.Sorted(maps.Keys(groups)) }

// Refused returns the system calls the default filter refuses, sorted
// (clone's namespace flags aside).
func Refused() []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	slices.Sort(out)
	return out
}

// Check reports the first addition that names neither a group nor a
// system call the default filter refuses, with what to write instead.
func Check(additions []string) error {
	for _, a := range additions {
		if strings.HasPrefix(a, "@") {
			if _, ok := groups[a]; !ok {
				return fmt.Errorf("seccomp %q: no such group: use one of %s", a, strings.Join(Groups(), ", "))
			}
			continue
		}
		if !slices.Contains(Refused(), a) {
			return fmt.Errorf("seccomp %q: not a system call the default filter refuses (%s refuses the groups %s)", a, DefaultProfile, strings.Join(Groups(), ", "))
		}
	}
	return nil
}

// deny returns the system call numbers to refuse with EPERM after
// additions are taken back, and whether namespace creation stays refused.
// Names unknown on this architecture are skipped.
func deny(additions []string) (nrs []uint32, namespaces bool) {
	allowed := map[string]bool{}
	for _, a := range additions {
		for _, n := range groups[a] {
			allowed[n] = true
		}
		allowed[a] = true
	}
	namespaces = !allowed["@namespaces"]
	for _, name := range Refused() {
		if allowed[name] || name == "unshare" || name == "clone3" {
			continue // unshare: flag-checked; clone3: ENOSYS
		}
		if nr, ok := syscalls[name]; ok {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	return slices.Compact(nrs), namespaces
}
