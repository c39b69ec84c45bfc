package supervise

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// TagEnv is the environment variable that carries Options.Tag into every
// service (and everything the service starts).
const TagEnv = "UNDISTRO_SUPERVISOR"

// KillLeftovers SIGKILLs every process whose environment carries tag: the
// services (and their children) of a supervisor with the same Tag that died
// without stopping them. A new supervisor calls it before starting, so the
// old processes neither hold ports nor run beside the new ones. It returns
// how many processes it killed. Processes it may not read are skipped.
func KillLeftovers(tag string) (int, error) {
	if tag == "" {
		return 0, fmt.Errorf("killing leftover services: empty tag")
	}
	want := []byte(TagEnv + "=" + tag + "\x00")
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	killed := 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed++
		}
	}
	return killed, nil
}
