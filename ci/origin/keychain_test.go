package origin

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/un-distro/undistro/builder/image"
)

// TestBuilderPushUsesDockerConfig: the builder's push reads credentials
// the ecosystem's way (DOCKER_CONFIG/config.json), so `docker login` or a
// CI secret written there is what an authenticated origin needs.
func TestBuilderPushUsesDockerConfig(t *testing.T) {
	data := t.TempDir()
	mustAddUser(t, data, "ci", "pw")
	srv, _ := start(t, data)
	img := randomImage(t)
	target := host(srv) + "/undistro/web:latest"

	t.Setenv("DOCKER_CONFIG", t.TempDir()) // empty: no credentials
	if _, err := image.Push(logCtx(t.Context()), target, img); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("push without credentials: %v, want 401", err)
	}

	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:pw"))
	body := `{"auths":{"` + host(srv) + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfg)
	d, err := image.Push(logCtx(t.Context()), target, img)
	if err != nil {
		t.Fatalf("push with DOCKER_CONFIG credentials: %v", err)
	}
	if d != digestOf(t, img).String() {
		t.Fatalf("pushed %s, want %s", d, digestOf(t, img))
	}
}
