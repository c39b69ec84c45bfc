package testsupport

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RunIsolated runs the tests of m with HOME, the XDG directories,
// DOCKER_CONFIG and sigstore's TUF_ROOT inside a fresh temporary
// directory, so tests neither read nor write the user's home or config,
// then exits with their status. Call it from TestMain.
func RunIsolated(m *testing.M) {
	dir, err := os.MkdirTemp("", "undistro-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"TUF_ROOT":        filepath.Join(dir, "tuf"),
		"DOCKER_CONFIG":   filepath.Join(dir, "docker"),
		"XDG_CACHE_HOME":  filepath.Join(dir, "cache"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
