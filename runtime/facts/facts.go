package facts

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// Facts is what the node gathers about itself.
type Facts struct {
	Hostname string `json:"hostname"`
	// Addresses are the node's non-loopback IP addresses, sorted.
	Addresses   []string `json:"addresses"`
	CPUs        int      `json:"cpus"`
	MemoryBytes uint64   `json:"memoryBytes"`
	Kernel      string   `json:"kernel"` // release, as uname -r
}

// Gather reads the node's facts from the kernel.
func Gather(ctx context.Context) (Facts, error) {
	var f Facts
	var err error
	if f.Hostname, err = os.Hostname(); err != nil {
		return f, fmt.Errorf("gathering facts: hostname: %w", err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return f, fmt.Errorf("gathering facts: addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			f.Addresses = append(f.Addresses, ipn.IP.String())
		}
	}
	slices.Sort(f.Addresses)
	f.CPUs = runtime.NumCPU()
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return f, fmt.Errorf("gathering facts: memory: %w", err)
	}
	f.MemoryBytes = uint64(si.Totalram) * uint64(si.Unit)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return f, fmt.Errorf("gathering facts: kernel: %w", err)
	}
	f.Kernel = unix.ByteSliceToString(u.Release[:])
	return f, ctx.Err()
}

// Data is what a template sees: {{.Name}}, {{.Tags}}, {{.Facts.Hostname}},
// {{.Values.KEY}}.
type Data struct {
	Name   string         `json:"name"`
	Tags   []string       `json:"tags"`
	Facts  Facts          `json:"facts"`
	Values map[string]any `json:"values"`
}

// NewData combines a node's config and facts.
func NewData(c *Config, f Facts) *Data {
	return &Data{Name: c.Name, Tags: c.Tags, Facts: f, Values: c.Merged()}
}
