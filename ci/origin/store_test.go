package origin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestRestartKeepsManifests: two manifests pushed to one tag are both
// pullable by digest after a restart, and one deleted by digest stays
// deleted.
func TestRestartKeepsManifests(t *testing.T) {
	data := t.TempDir()
	srv, stop := start(t, data)
	h := host(srv)
	first, second, gone := randomImage(t), randomImage(t), randomImage(t)
	for _, img := range []v1.Image{first, second} {
		if err := remote.Write(ref(t, h+"/undistro/web:latest"), img); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(ref(t, h+"/undistro/web:old"), gone); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref(t, h+"/undistro/web@"+digestOf(t, gone).String())); err != nil {
		t.Fatalf("deleting by digest: %v", err)
	}
	stop()

	srv, _ = start(t, data)
	h = host(srv)
	for _, img := range []v1.Image{first, second} {
		d := digestOf(t, img)
		got, err := remote.Image(ref(t, h+"/undistro/web@"+d.String()))
		if err != nil {
			t.Fatalf("pulling %s after restart: %v", d, err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("%s after restart: %v", d, err)
		}
	}
	if d, err := remote.Head(ref(t, h+"/undistro/web:latest")); err != nil || d.Digest != digestOf(t, second) {
		t.Fatalf("tag latest after restart: %v %v, want %s", d, err, digestOf(t, second))
	}
	_, err := remote.Image(ref(t, h+"/undistro/web@"+digestOf(t, gone).String()))
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("deleted manifest after restart: %v, want 404", err)
	}
}

// TestManifestRefusals: what the journal registry accepted and must not.
func TestManifestRefusals(t *testing.T) {
	data := t.TempDir()
	srv, _ := start(t, data)
	img, other := randomImage(t), randomImage(t)
	r := ref(t, host(srv)+"/undistro/web:latest")
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	big := bytes.Repeat([]byte(" "), 40<<20)
	big = append(append([]byte(nil), raw[:len(raw)-1]...), append(big, '}')...)
	for _, tc := range []struct {
		name, path string
		body       []byte
		wantCode   int
		wantText   string
	}{
		{"wrong digest", "/v2/undistro/web/manifests/" + digestOf(t, other).String(), raw, http.StatusBadRequest, "DIGEST_INVALID"},
		{"40 MiB manifest", "/v2/undistro/web/manifests/big", big, http.StatusBadRequest, ""},
		{"space in repository name", "/v2/a%20b/manifests/latest", raw, http.StatusBadRequest, "NAME_INVALID"},
		{"upper case repository name", "/v2/Undistro/manifests/latest", raw, http.StatusBadRequest, "NAME_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPut, srv.URL()+tc.path, string(tc.body), map[string]string{"Content-Type": string(mt)})
			if resp.StatusCode != tc.wantCode || !strings.Contains(body, tc.wantText) {
				t.Fatalf("PUT %s: %d %s, want %d %s", tc.path, resp.StatusCode, body, tc.wantCode, tc.wantText)
			}
		})
	}
	// Nothing of it reached storage: the catalog holds one repository, and
	// the wrong-digest PUT stored no manifest.
	resp, body := do(t, http.MethodGet, srv.URL()+"/v2/_catalog", "", nil)
	var cat struct{ Repositories []string }
	if err := json.Unmarshal([]byte(body), &cat); err != nil || resp.StatusCode != 200 {
		t.Fatalf("catalog: %d %s", resp.StatusCode, body)
	}
	if len(cat.Repositories) != 1 || cat.Repositories[0] != "undistro/web" {
		t.Fatalf("catalog %v, want [undistro/web]", cat.Repositories)
	}
	if resp, _ := do(t, http.MethodHead, srv.URL()+"/v2/undistro/web/manifests/"+digestOf(t, other).String(), "", nil); resp.StatusCode != 404 {
		t.Fatalf("manifest PUT under a wrong digest was stored: HEAD %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(data, storageDir, "docker/registry/v2/repositories/a b")); !os.IsNotExist(err) {
		t.Fatalf("repository 'a b' reached storage: %v", err)
	}
}

// TestRestartAfterBadName: a refused name leaves the registry able to start.
func TestRestartAfterBadName(t *testing.T) {
	data := t.TempDir()
	srv, stop := start(t, data)
	resp, _ := do(t, http.MethodPut, srv.URL()+"/v2/a%20b/manifests/latest", `{"schemaVersion":2}`, map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("PUT a%%20b: %d, want 400", resp.StatusCode)
	}
	stop()
	srv, _ = start(t, data)
	if resp, _ := do(t, http.MethodGet, srv.URL()+"/v2/", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ after restart: %d", resp.StatusCode)
	}
}

func TestRepoName(t *testing.T) {
	for _, tc := range []struct {
		path, name string
		ok         bool
	}{
		{"/v2/", "", false},
		{"/v2/_catalog", "", false},
		{"/v2/a/b/manifests/latest", "a/b", true},
		{"/v2/a b/manifests/latest", "a b", true},
		{"/v2/x/blobs/uploads/", "x", true},
		{"/v2/x/blobs/sha256:00", "x", true},
		{"/v2/blobs/blobs/sha256:00", "blobs", true},
		{"/v2/x/manifests/y/manifests/z", "x", true},
		{"/v2/x/tags/list", "x", true},
		{"/v2/x/referrers/sha256:00", "x", true},
		{"/other", "", false},
	} {
		name, ok := repoName(tc.path)
		if name != tc.name || ok != tc.ok {
			t.Errorf("repoName(%q) = %q %v, want %q %v", tc.path, name, ok, tc.name, tc.ok)
		}
	}
}

// FuzzRepoName: the front door parses every request path; it must not
// panic, and a name it finds is what the path holds after /v2/.
func FuzzRepoName(f *testing.F) {
	for _, s := range []string{"/v2/a/b/manifests/latest", "/v2/a b/blobs/uploads/", "/v2//manifests/", "/v2/x/tags/list/manifests/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		name, ok := repoName(path)
		if ok && !strings.HasPrefix(path, "/v2/"+name+"/") {
			t.Fatalf("repoName(%q) = %q, not a prefix of the path", path, name)
		}
	})
}
