package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullWithDockerConfigCredentials: a registry that wants basic auth is
// pulled from with the credentials of $DOCKER_CONFIG/config.json, and
// refused without them.
func TestPullWithDockerConfigCredentials(t *testing.T) {
	const user, pass = "node", "s3cret"
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/undistro/a:latest"
	dst, _ := name.ParseReference(ref)
	img := build(t, testImage{Role: "a", Layers: [][]ent{{f("etc/a", "a")}}})
	if err := remote.Write(dst, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
		t.Fatal(err)
	}

	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	s := openStore(t, filepath.Join(t.TempDir(), "store"))
	if _, err := s.Pull(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("pull without credentials = %v, want UNAUTHORIZED", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), ref)
	if err != nil {
		t.Fatalf("pull with docker config credentials: %v", err)
	}
	if want, _ := img.Digest(); got.Digest != want.String() || got.Meta.Role != "a" {
		t.Fatalf("pulled %s (%s), want %s", got.Digest, got.Meta.Role, want)
	}
}
