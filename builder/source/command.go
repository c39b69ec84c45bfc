package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Host commands the fetchers run (git, apt-get, dpkg-source, go).

// run runs a command and, when it fails, returns an error carrying the
// tail of its standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("running %s: %w", name, err)
		}
		msg := strings.TrimSpace(tail(stderr.String(), 2000))
		if msg == "" {
			msg = strings.TrimSpace(tail(stdout.String(), 2000))
		}
		return stdout.Bytes(), fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// need returns a clear error when a host tool is missing.
func need(tool, pkg string) error {
	if _, err := exec.LookPath(tool); err != nil {
		return fmt.Errorf("%s not found on PATH; install it with apt-get install %s", tool, pkg)
	}
	return nil
}

// environWithout returns the process environment minus the named variables.
func environWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, n := range names {
			if k == n {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
