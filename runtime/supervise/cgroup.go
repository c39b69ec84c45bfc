package supervise

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Cgroup is the supervisor's own delegated cgroup v2 subtree: each
// service gets a group of its own in it, which the kernel starts it in
// (CLONE_INTO_CGROUP), with memory.max, pids.max, cpu.weight and
// io.weight as the service declares. The supervisor itself moves into a
// leaf "supervisor" group, as cgroup v2 lets only leaves hold processes
// once controllers are enabled for children.
type Cgroup struct {
	// Dir is the subtree's directory, /sys/fs/cgroup/PATH.
	Dir string
}

// cgroupControllers are the controllers a service group uses.
var cgroupControllers = []string{"memory", "pids", "cpu", "io"}

// ErrNoCgroup is returned by DetectCgroup when limits must fall back to
// rlimits.
var ErrNoCgroup = errors.New("no delegated cgroup v2 subtree")

// DetectCgroup returns this process's cgroup as a subtree services can
// be given groups in: the host has the unified cgroup v2 hierarchy on
// /sys/fs/cgroup, this process sits in a group other than the root, and
// that group is writable with the controllers services use available.
// Otherwise (cgroup v1 or hybrid hosts among them) it returns an error
// wrapping ErrNoCgroup, and nothing was created or moved.
func DetectCgroup() (*Cgroup, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%w: /sys/fs/cgroup is not cgroup2 (a v1 or hybrid host)", ErrNoCgroup)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	p, err := unifiedPath(string(b))
	if err != nil {
		return nil, err
	}
	return checkCgroup(filepath.Join("/sys/fs/cgroup", p))
}

// unifiedPath returns the cgroup v2 path in the contents of
// /proc/self/cgroup ("0::/PATH"), refusing the root group.
func unifiedPath(procCgroup string) (string, error) {
	for line := range strings.Lines(procCgroup) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			// A supervisor in the root group has no subtree of its own:
			// groups there would be the whole host's.
			if p == "/" || p == "" {
				return "", fmt.Errorf("%w: the supervisor runs in the root cgroup: start it in a delegated group (systemd: Delegate=yes)", ErrNoCgroup)
			}
			return filepath.Clean(p), nil
		}
	}
	return "", fmt.Errorf("%w: no cgroup v2 entry in /proc/self/cgroup", ErrNoCgroup)
}

// checkCgroup checks dir can hold the services' groups.
func checkCgroup(dir string) (*Cgroup, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	have := strings.Fields(string(b))
	for _, c := range cgroupControllers {
		if !slices.Contains(have, c) {
			return nil, fmt.Errorf("%w: controller %s is not delegated to %s", ErrNoCgroup, c, dir)
		}
	}
	if err := unix.Access(filepath.Join(dir, "cgroup.subtree_control"), unix.W_OK); err != nil {
		return nil, fmt.Errorf("%w: %s is not writable: %v", ErrNoCgroup, dir, err)
	}
	return &Cgroup{Dir: dir}, nil
}

// Setup moves pid (the supervisor) into the subtree's leaf "supervisor"
// group, removes the empty groups of services a previous supervisor left
// and enables the services' controllers for the subtree's children. It
// is idempotent.
func (c *Cgroup) Setup(pid int) error {
	c.prune()
	leaf := filepath.Join(c.Dir, "supervisor")
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating cgroup %s: %w", leaf, err)
	}
	if err := writeCgroup(leaf, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return err
	}
	ctl := make([]string, len(cgroupControllers))
	for i, s := range cgroupControllers {
		ctl[i] = "+" + s
	}
	return writeCgroup(c.Dir, "cgroup.subtree_control", strings.Join(ctl, " "))
}

// prune removes every service group no process is left in; the kernel
// refuses (EBUSY) to remove one that still holds a process, which the
// next start of that service reuses.
func (c *Cgroup) prune() {
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if name, ok := strings.CutPrefix(e.Name(), "svc-"); ok && e.IsDir() {
			c.removeGroup(name)
		}
	}
}

// removeGroup removes service name's group if no process is left in it.
func (c *Cgroup) removeGroup(name string) {
	_ = unix.Rmdir(filepath.Join(c.Dir, "svc-"+name))
}

// serviceGroup creates (or reuses) the group of service name with sb's
// limits and opens it for CLONE_INTO_CGROUP; the caller closes the file.
func (c *Cgroup) serviceGroup(name string, sb imagespec.Sandbox) (*os.File, error) {
	dir := filepath.Join(c.Dir, "svc-"+name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	limit := func(v int64) string {
		if v <= 0 {
			return "max"
		}
		return strconv.FormatInt(v, 10)
	}
	weight := func(v int) string {
		if v <= 0 {
			return "100"
		}
		return strconv.Itoa(v)
	}
	swap := "max"
	if sb.MemoryMax > 0 {
		swap = "0" // memory_max is a hard limit: no escape into swap
	}
	for _, w := range [][2]string{
		{"memory.max", limit(sb.MemoryMax)},
		{"memory.swap.max", swap},
		{"pids.max", limit(int64(sb.TasksMax))},
		{"cpu.weight", weight(sb.CPUWeight)},
		{"io.weight", "default " + weight(sb.IOWeight)},
	} {
		// memory.swap.max is absent without swap accounting; io.weight
		// without an io scheduler that weighs: skip what the kernel lacks.
		if _, err := os.Stat(filepath.Join(dir, w[0])); errors.Is(err, os.ErrNotExist) && w[0] != "memory.max" && w[0] != "pids.max" {
			continue
		}
		if err := writeCgroup(dir, w[0], w[1]); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup %s: %w", dir, err)
	}
	return f, nil
}

// ooms returns the oom_kill count of service name's group (0 when it
// cannot be read).
func (c *Cgroup) ooms(name string) int {
	f, err := os.Open(filepath.Join(c.Dir, "svc-"+name, "memory.events"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func writeCgroup(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}
