package crash

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

var (
	once  sync.Once
	at    int64 // 0: never crash
	trace bool
	count atomic.Int64
)

func load() {
	if v := os.Getenv("UNDISTRO_CRASH_AT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n > 0 {
			at = n
		}
	}
	trace = os.Getenv("UNDISTRO_CRASH_TRACE") == "1"
}

// Point marks one write step named name. See the package documentation.
func Point(name string) {
	once.Do(load)
	if at == 0 && !trace {
		return
	}
	n := count.Add(1)
	if trace {
		fmt.Fprintf(os.Stderr, "crash point %d %s\n", n, name)
	}
	if n == at {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never return into the write
	}
}
