package builder

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// hostTools reports the installed version of host tools named by "host:NAME"
// build dependencies; the version enters the cache key, so upgrading gcc
// rebuilds what gcc built.
type hostTools struct {
	mu   sync.Mutex
	memo map[string]string
}

// versionArgs holds tools whose version flag is not --version.
var versionArgs = map[string][]string{
	"go": {"version"},
}

func (h *hostTools) version(ctx context.Context, tool string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.memo[tool]; ok {
		return v, nil
	}
	path, err := exec.LookPath(tool)
	if err != nil {
		return "", fmt.Errorf("host tool %q is not installed: install it (e.g. apt-get install %s) or drop host:%s from the recipe", tool, tool, tool)
	}
	args, ok := versionArgs[tool]
	if !ok {
		args = []string{"--version"}
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("asking %s for its version: %w", path, err)
	}
	line, _ := bufio.NewReader(bytes.NewReader(out)).ReadString('\n')
	v := strings.TrimSpace(line)
	if h.memo == nil {
		h.memo = map[string]string{}
	}
	h.memo[tool] = v
	return v, nil
}
