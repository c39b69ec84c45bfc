package recipe

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/un-distro/undistro/internal/seccomp"
	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Grants is what a service may touch beyond the defaults (nothing), as
// recipes and roles write it (embedded in a recipe's [Service] and a
// role's service table, so the keys are declared once here):
// the source of [imagespec.Sandbox]. A recipe declares defaults; a role
// overrides each field.
type Grants struct {
	// Capabilities, lower-case without "cap_": ["net_bind_service"].
	Capabilities []string `toml:"capabilities"`
	// AllowSetuid lets the service exec the package's privileged paths.
	AllowSetuid *bool `toml:"allow_setuid"`
	// Network: "private" (default: loopback only), "host" or "none".
	Network string `toml:"network"`
	// Publish: host "ADDR:PORT"s forwarded to PORT on the loopback of a
	// private network.
	Publish []string `toml:"publish"`
	// Seccomp: groups ("@clock") or system calls taken back from the
	// default filter.
	Seccomp []string `toml:"seccomp"`
	// MemoryMax, TmpSize, RunSize: sizes such as "64M", "1G".
	MemoryMax string `toml:"memory_max"`
	TasksMax  int    `toml:"tasks_max"`
	CPUWeight int    `toml:"cpu_weight"`
	IOWeight  int    `toml:"io_weight"`
	TmpSize   string `toml:"tmp_size"`
	RunSize   string `toml:"run_size"`
	// ReadWritePaths are directories of the image kept writable, with
	// state that persists across restarts and image switches.
	ReadWritePaths []string `toml:"read_write_paths"`
}

// Override returns g with every field o sets replacing g's.
func (g Grants) Override(o Grants) Grants {
	g, _ = g.OverrideKeys(o)
	return g
}

// OverrideKeys is [Grants.Override], also returning the TOML keys of the
// fields o sets (a role records where each was set).
func (g Grants) OverrideKeys(o Grants) (Grants, []string) {
	var keys []string
	set := func(key string, ok bool, apply func()) {
		if ok {
			apply()
			keys = append(keys, key)
		}
	}
	set("capabilities", o.Capabilities != nil, func() { g.Capabilities = o.Capabilities })
	set("allow_setuid", o.AllowSetuid != nil, func() { g.AllowSetuid = o.AllowSetuid })
	set("network", o.Network != "", func() { g.Network = o.Network })
	set("publish", o.Publish != nil, func() { g.Publish = o.Publish })
	set("seccomp", o.Seccomp != nil, func() { g.Seccomp = o.Seccomp })
	set("memory_max", o.MemoryMax != "", func() { g.MemoryMax = o.MemoryMax })
	set("tasks_max", o.TasksMax != 0, func() { g.TasksMax = o.TasksMax })
	set("cpu_weight", o.CPUWeight != 0, func() { g.CPUWeight = o.CPUWeight })
	set("io_weight", o.IOWeight != 0, func() { g.IOWeight = o.IOWeight })
	set("tmp_size", o.TmpSize != "", func() { g.TmpSize = o.TmpSize })
	set("run_size", o.RunSize != "", func() { g.RunSize = o.RunSize })
	set("read_write_paths", o.ReadWritePaths != nil, func() { g.ReadWritePaths = o.ReadWritePaths })
	return g, keys
}

// Sandbox converts g, checked by Problems, to the image's form.
func (g Grants) Sandbox() imagespec.Sandbox {
	size := func(s string) int64 {
		n, _ := ParseSize(s) // checked when loaded
		return n
	}
	sb := imagespec.Sandbox{
		Capabilities: g.Capabilities, Network: g.Network, Publish: g.Publish, Seccomp: g.Seccomp,
		MemoryMax: size(g.MemoryMax), TasksMax: g.TasksMax, CPUWeight: g.CPUWeight, IOWeight: g.IOWeight,
		TmpSize: size(g.TmpSize), RunSize: size(g.RunSize), ReadWritePaths: g.ReadWritePaths,
	}
	if g.AllowSetuid != nil {
		sb.AllowSetuid = *g.AllowSetuid
	}
	if sb.Network == imagespec.NetworkPrivate {
		sb.Network = "" // the default
	}
	return sb
}

// Problems checks the names and values of g.
func (g Grants) Problems() []Problem {
	var out []Problem
	names := imagespec.CapabilityNames()
	for i, c := range g.Capabilities {
		if _, ok := imagespec.Capability(c); !ok {
			norm := strings.TrimPrefix(strings.ToLower(c), "cap_")
			hint := tomlpos.Suggest(norm, names)
			if _, ok := imagespec.Capability(norm); ok {
				hint = fmt.Sprintf(" (did you mean %q?)", norm)
			}
			out = append(out, Problem{fmt.Sprintf("capabilities[%d]", i), fmt.Sprintf("capability %q: unknown: write it lower-case without cap_, e.g. \"net_bind_service\"%s", c, hint)})
		}
	}
	if g.Network != "" && !slices.Contains(imagespec.Networks, g.Network) {
		out = append(out, Problem{"network", fmt.Sprintf("network %q: want one of %s%s", g.Network, strings.Join(imagespec.Networks, ", "), tomlpos.Suggest(g.Network, imagespec.Networks))})
	}
	seen := map[string]bool{}
	for i, pub := range g.Publish {
		key := fmt.Sprintf("publish[%d]", i)
		switch host, port, err := net.SplitHostPort(pub); {
		case err != nil || net.ParseIP(host) == nil:
			out = append(out, Problem{key, fmt.Sprintf(`publish %q: want a host address and port such as "127.0.0.1:8080" or "0.0.0.0:80"`, pub)})
		case !validPort(port):
			out = append(out, Problem{key, fmt.Sprintf("publish %q: port %q: want 1 to 65535", pub, port)})
		case g.Network != "" && g.Network != imagespec.NetworkPrivate:
			out = append(out, Problem{key, fmt.Sprintf("publish %q: only a private network publishes ports (network is %q): remove one of them", pub, g.Network)})
		case seen[port]:
			out = append(out, Problem{key, fmt.Sprintf("publish %q: port %s is published twice", pub, port)})
		}
		if _, port, err := net.SplitHostPort(pub); err == nil {
			seen[port] = true
		}
	}
	for i, sc := range g.Seccomp {
		if err := seccomp.Check([]string{sc}); err != nil {
			out = append(out, Problem{fmt.Sprintf("seccomp[%d]", i), err.Error()})
		}
	}
	for _, f := range []struct{ key, v string }{{"memory_max", g.MemoryMax}, {"tmp_size", g.TmpSize}, {"run_size", g.RunSize}} {
		if f.v == "" {
			continue
		}
		if _, err := ParseSize(f.v); err != nil {
			out = append(out, Problem{f.key, f.key + ": " + err.Error()})
		}
	}
	if g.TasksMax < 0 {
		out = append(out, Problem{"tasks_max", fmt.Sprintf("tasks_max %d: must be 1 or more", g.TasksMax)})
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"cpu_weight", g.CPUWeight}, {"io_weight", g.IOWeight}} {
		if f.v < 0 || f.v > 10000 {
			out = append(out, Problem{f.key, fmt.Sprintf("%s %d: want 1 to 10000 (100 is the default share)", f.key, f.v)})
		}
	}
	for i, p := range g.ReadWritePaths {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || underAny(p, "/proc", "/dev", "/sys", "/tmp", "/run") {
			out = append(out, Problem{fmt.Sprintf("read_write_paths[%d]", i), fmt.Sprintf("read_write_paths %q: want an absolute, clean directory of the image such as /var/lib/app (not /, /proc, /dev, /sys, /tmp or /run)", p)})
		}
	}
	return out
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == p
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// ParseSize parses a size in bytes with an optional binary suffix: "512K",
// "64M", "1G" (powers of 1024), or a plain number of bytes; it must be
// positive.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult, num = 1<<10, s[:n-1]
		case 'M', 'm':
			mult, num = 1<<20, s[:n-1]
		case 'G', 'g':
			mult, num = 1<<30, s[:n-1]
		case 'T', 't':
			mult, num = 1<<40, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: write it like \"64M\" or \"1G\"", s)
	}
	return v * mult, nil
}
