package registry

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestPersistsAcrossRestart pushes an image, restarts the registry on the
// same directory and pulls it back by tag and by digest.
func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	h, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.ParseReference(host + "/undistro/web:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	h2, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	host2 := strings.TrimPrefix(srv2.URL, "http://")
	want, _ := img.Digest()
	for _, ref := range []string{host2 + "/undistro/web:latest", host2 + "/undistro/web@" + want.String()} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(r)
		if err != nil {
			t.Fatalf("pulling %s after restart: %v", ref, err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("%s: digest %s, want %s", ref, d, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}
}

func TestParseManifestPath(t *testing.T) {
	for _, tc := range []struct {
		path, repo, ref string
		ok              bool
	}{
		{"/v2/a/b/manifests/latest", "a/b", "latest", true},
		{"/v2/a/blobs/sha256:1", "", "", false},
		{"/v2/manifests/x", "", "", false},
	} {
		repo, ref, ok := parseManifestPath(tc.path)
		if repo != tc.repo || ref != tc.ref || ok != tc.ok {
			t.Errorf("%s: got %q %q %v", tc.path, repo, ref, ok)
		}
	}
}
