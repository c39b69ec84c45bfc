package launch

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// span is an address range of a mapping.
type span struct{ start, end uintptr }

// exeSpans returns the read-only mappings of this process's executable,
// read while the host's /proc is still reachable.
func exeSpans() []span {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []span
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && end > start {
			out = append(out, span{uintptr(start), uintptr(end)})
		}
	}
	return out
}

// trim gives back what start-up needed and the waiting init does not: the
// heap's free pages, and the executable's pages touched while the whole
// binary initialised. Clean file pages are dropped (MADV_PAGEOUT, Linux
// 5.4+) and fault back in from the page cache if needed. Errors are
// ignored: this only saves memory.
func trim(spans []span) {
	debug.FreeOSMemory()
	for _, s := range spans {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_PAGEOUT)
	}
}
