package launch

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/seccomp"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// lastCap is the highest capability number tried when emptying the
// bounding set; the kernel answers EINVAL past its own last.
const lastCap = 63

// loopbackUp brings lo up in this process's fresh network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing loopback up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing loopback up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing loopback up: %w", err)
	}
	return nil
}

// newSessionKeyring gives this process a fresh anonymous session keyring,
// so nothing of the supervisor's session is reachable.
func newSessionKeyring() error {
	if _, _, e := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); e != 0 {
		return fmt.Errorf("joining a new session keyring: %w", e)
	}
	return nil
}

// closeInherited marks every descriptor above stderr close-on-exec but
// keep: the service gets nothing the supervisor itself inherited.
func closeInherited(keep []int) error {
	err := closeRanges(keep)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		// Before Linux 5.11: one by one, from /proc/self/fd.
		return closeListed(keep)
	}
	return err
}

func closeListed(keep []int) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing inherited descriptors: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || slices.Contains(keep, fd) {
			continue
		}
		unix.CloseOnExec(fd) // the directory's own descriptor fails: harmless
	}
	return nil
}

func closeRanges(keep []int) error {
	first := 3
	for _, k := range append(slices.Sorted(slices.Values(keep)), -1) {
		last := k - 1
		if k < 0 {
			last = int(^uint32(0) >> 1)
		}
		if last >= first {
			if err := unix.CloseRange(uint(first), uint(last), unix.CLOSE_RANGE_CLOEXEC); err != nil {
				return fmt.Errorf("closing inherited descriptors: %w", err)
			}
		}
		if k >= first {
			first = k + 1
		}
	}
	return nil
}

// setRlimit sets resource r's soft and hard limits to v (none when 0).
func setRlimit(r int, v uint64) error {
	if v == 0 {
		return nil
	}
	return unix.Setrlimit(r, &unix.Rlimit{Cur: v, Max: v})
}

// confine empties the bounding set but caps, installs the seccomp filter
// and, unless setuid programs are allowed, sets no_new_privs. It runs as
// root, before the user changes.
func confine(spec *Spec) error {
	for c := 0; c <= lastCap; c++ {
		if slices.Contains(spec.Caps, c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				break // past the kernel's last capability
			}
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if len(spec.Caps) > 0 {
		// Keep the permitted set across setuid, to hand caps over below.
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("keeping capabilities across setuid: %w", err)
		}
	}
	prog, err := seccomp.Filter(spec.Seccomp)
	if err != nil {
		return err
	}
	if !spec.AllowSetuid {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	return seccomp.Install(prog)
}

// setCapabilities leaves caps, and nothing else, in the permitted,
// effective and inheritable sets and raises them as ambient, so the
// program exec'd next holds exactly caps whatever its user.
func setCapabilities(caps []int) error {
	var data [2]unix.CapUserData
	for _, c := range caps {
		data[c/32].Permitted |= 1 << (c % 32)
	}
	for i := range data {
		data[i].Effective, data[i].Inheritable = data[i].Permitted, data[i].Permitted
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting capabilities %v: %w", caps, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	for _, c := range caps {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raising ambient capability %d: %w", c, err)
		}
	}
	return nil
}

// CapNumbers converts capability names to numbers.
func CapNumbers(names []string) ([]int, error) {
	var out []int
	for _, n := range names {
		c, ok := imagespec.Capability(n)
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		out = append(out, c)
	}
	return out, nil
}
