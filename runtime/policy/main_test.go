package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps sigstore's caches (TUF_ROOT) and any docker or cosign
// config the library would read inside a temporary directory, so tests
// neither read nor write the user's home.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "undistro-policy-test-")
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
