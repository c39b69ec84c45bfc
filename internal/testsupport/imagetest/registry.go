package imagetest

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Registry starts go-containerregistry's in-memory registry on loopback
// (port 0) for the test and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// PushRandom pushes a random image to ref and returns its digest.
func PushRandom(t testing.TB, ref string) string {
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

// RandomLayout writes a new OCI layout holding one random image per role
// and returns its directory and the images' digests by role.
func RandomLayout(t testing.TB, roles ...string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	ds := map[string]string{}
	for _, role := range roles {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{imagespec.RefNameAnnotation: role})); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		ds[role] = d.String()
	}
	return dir, ds
}
