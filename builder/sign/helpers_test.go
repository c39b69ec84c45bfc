package sign

import (
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

const testPassword = "correct horse battery staple"

func password() ([]byte, error) { return []byte(testPassword), nil }

// newKeyPair generates a key pair with GenerateKey in a temp dir and
// returns its prefix.
func newKeyPair(t *testing.T) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "undistro")
	if err := GenerateKey(context.Background(), prefix, password); err != nil {
		t.Fatal(err)
	}
	return prefix
}

// cosignBin returns the cosign CLI, skipping the test only when it is not
// installed (CI installs it with go install ...cosign@v2.6.5).
func cosignBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	p := filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "bin", "cosign")
	if _, err := os.Stat(p); err != nil {
		testsupport.Unavailable(t, "cosign CLI not installed: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5")
	}
	return p
}

// runCosign runs the cosign CLI with its caches and config in a temp dir,
// offline, and returns its combined output.
func runCosign(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cosignBin(t), args...)
	cmd.Dir = dir
	home := filepath.Join(dir, "home")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"TUF_ROOT=" + filepath.Join(dir, "tuf"),
		"SIGSTORE_NO_CACHE=1",
		"COSIGN_PASSWORD=" + testPassword,
		"COSIGN_EXPERIMENTAL=0",
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
