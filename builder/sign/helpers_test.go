package sign

import (
	"context"
	"go/build"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/testsupport"
)

const testPassword = "correct horse battery staple"

func password() ([]byte, error) { return []byte(testPassword), nil }

// newRegistry starts go-containerregistry's registry on loopback.
func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// pushRandom pushes a random image to ref and returns its digest.
func pushRandom(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// newLayout writes an OCI layout with one random image named role.
func newLayout(t *testing.T, role string) (dir, digest string) {
	t.Helper()
	dir = t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": role})); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return dir, d.String()
}

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
