package origin

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "registry.yml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: the engine's own YAML chooses the storage and address;
// what it leaves out keeps undistro's defaults (deletes on).
func TestConfigFile(t *testing.T) {
	data := t.TempDir()
	cfg := writeConfig(t, "version: 0.1\nstorage: inmemory\nhttp:\n  addr: 127.0.0.1:0\n")
	srv, err := New(logCtx(t.Context()), data, WithConfigFile(cfg))
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	img := randomImage(t)
	r := ref(t, host(srv)+"/undistro/web:latest")
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref(t, host(srv)+"/undistro/web@"+digestOf(t, img).String())); err != nil {
		t.Fatalf("delete with the config's defaults: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, storageDir)); !os.IsNotExist(err) {
		t.Fatalf("inmemory storage wrote to %s: %v", storageDir, err)
	}
}

func TestConfigFileRefused(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"not YAML", "storage: [\n", "registry.yml"},
		{"driver not built in", "version: 0.1\nstorage:\n  swift:\n    container: b\nhttp:\n  addr: 127.0.0.1:0\n", "swift"},
		{"pull-through cache", "version: 0.1\nproxy:\n  remoteurl: https://registry-1.docker.io\n", "proxy"},
		{"let's encrypt", "version: 0.1\nhttp:\n  tls:\n    letsencrypt:\n      cachefile: /tmp/x\n", "letsencrypt"},
		{"bad version", "version: 9.9\n", "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(logCtx(t.Context()), t.TempDir(), WithConfigFile(writeConfig(t, tc.yaml)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestConfigFileAuth: an auth section of the configuration file (here the
// engine's own htpasswd controller) replaces undistro's users.
func TestConfigFileAuth(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "users")
	mustAddUser(t, dir, "ops", "pw") // DATA/htpasswd of another directory: the file the config names
	if err := os.Rename(HtpasswdPath(dir), other); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "version: 0.1\nstorage: inmemory\nauth:\n  htpasswd:\n    realm: test\n    path: "+other+"\n")
	srv, _ := start(t, t.TempDir(), WithConfigFile(cfg))
	r := ref(t, host(srv)+"/undistro/web:latest")
	if err := remote.Write(r, randomImage(t)); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("push without credentials: %v, want 401", err)
	}
	if err := remote.Write(r, randomImage(t), basic("ops", "pw")); err != nil {
		t.Fatalf("push with the config's htpasswd credentials: %v", err)
	}
}
