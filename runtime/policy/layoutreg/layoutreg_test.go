package layoutreg

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/un-distro/undistro/internal/testsupport"
)

// newLayout writes a layout holding one random image per role.
func newLayout(t *testing.T, roles ...string) (string, map[string]v1.Image) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	imgs := map[string]v1.Image{}
	for _, r := range roles {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefNameAnnotation: r})); err != nil {
			t.Fatal(err)
		}
		imgs[r] = img
	}
	return dir, imgs
}

func digestOf(t *testing.T, img v1.Image) string {
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestResolve(t *testing.T) {
	dir, imgs := newLayout(t, "web")
	web := digestOf(t, imgs["web"])
	cases := []struct {
		name, ref  string
		wantRef    string // Ref.String()
		wantLayout string
		wantErr    string
	}{
		{"registry tag", "127.0.0.1:5000/undistro/web:latest", "127.0.0.1:5000/undistro/web:latest", "", ""},
		{"registry digest", "example.org/web@" + web, "example.org/web@" + web, "", ""},
		{"layout role", "oci:" + dir + ":web", Host + "/" + Repository + ":web", dir, ""},
		{"layout digest", "oci:" + dir + "@" + web, Host + "/" + Repository + "@" + web, dir, ""},
		{"layout single image", "oci:" + dir, Host + "/" + Repository + "@" + web, dir, ""},
		{"empty layout path", "oci:", "", "", "empty layout path"},
		{"missing layout", "oci:" + dir + "/nope:web", "", "", "opening OCI layout " + dir + "/nope"},
		{"bad registry ref", "a b", "", "", `parsing image reference "a b"`},
		{"bad role", "oci:" + dir + ":WEB!", "", "", "parsing image reference"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Resolve(tc.ref)
			if testsupport.WantErr(t, err, tc.wantErr) {
				return
			}
			if tg.Ref.String() != tc.wantRef || tg.Layout != tc.wantLayout {
				t.Fatalf("Resolve = %s in %q, want %s in %q", tg.Ref, tg.Layout, tc.wantRef, tc.wantLayout)
			}
		})
	}
}

func TestSplitLayoutRef(t *testing.T) {
	cases := []struct{ in, dir, tag, dig string }{
		{"out:web", "out", "web", ""},
		{"/a/b:c/out", "/a/b:c/out", "", ""},
		{"/a:b/out:web", "/a:b/out", "web", ""},
		{"out@sha256:00", "out", "", "sha256:00"},
		{"out", "out", "", ""},
	}
	for _, tc := range cases {
		dir, tag, dig := splitLayoutRef(tc.in)
		if dir != tc.dir || tag != tc.tag || dig != tc.dig {
			t.Errorf("splitLayoutRef(%q) = %q %q %q, want %q %q %q", tc.in, dir, tag, dig, tc.dir, tc.tag, tc.dig)
		}
	}
}

// TestServeLayout reads images out of a layout through the in-process
// transport with go-containerregistry's remote client and validates them.
func TestServeLayout(t *testing.T) {
	dir, imgs := newLayout(t, "web", "db")
	for role, want := range imgs {
		tg, err := Resolve("oci:" + dir + ":" + role)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(tg.Ref, tg.Remote...)
		if err != nil {
			t.Fatal(err)
		}
		if digestOf(t, got) != digestOf(t, want) {
			t.Errorf("%s: served %s, want %s", role, digestOf(t, got), digestOf(t, want))
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("%s: %v", role, err)
		}
	}
	tg, _ := Resolve("oci:" + dir + ":nope")
	if _, err := remote.Image(tg.Ref, tg.Remote...); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("missing tag: %v, want MANIFEST_UNKNOWN", err)
	}
}

func TestHandlerRefuses(t *testing.T) {
	dir, _ := newLayout(t, "web")
	h := Handler(dir)
	cases := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"push", http.MethodPut, "/v2/layout/manifests/web", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{"upload", http.MethodPost, "/v2/layout/blobs/uploads/", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{"path traversal", http.MethodGet, "/v2/layout/blobs/sha256:../../../index.json", http.StatusBadRequest, "DIGEST_INVALID"},
		{"unknown blob", http.MethodGet, "/v2/layout/blobs/sha256:" + strings.Repeat("0", 64), http.StatusNotFound, "BLOB_UNKNOWN"},
		{"unknown tag", http.MethodGet, "/v2/layout/manifests/db", http.StatusNotFound, "MANIFEST_UNKNOWN"},
		{"not registry", http.MethodGet, "/index.json", http.StatusNotFound, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			var body struct {
				Errors []struct{ Code string } `json:"errors"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.status || len(body.Errors) != 1 || body.Errors[0].Code != tc.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.code)
			}
		})
	}
}

func TestWriteImage(t *testing.T) {
	dir, imgs := newLayout(t, "web")
	a, _ := random.Image(128, 1)
	b, _ := random.Image(128, 1)
	for _, img := range []v1.Image{a, b} { // b replaces a under the same name
		if err := WriteImage(dir, img, "sha256-x.sig"); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := readIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range idx.Manifests {
		names[d.Annotations[RefNameAnnotation]] = d.Digest.String()
	}
	if len(names) != 2 || names["web"] != digestOf(t, imgs["web"]) || names["sha256-x.sig"] != digestOf(t, b) {
		t.Fatalf("index names = %v", names)
	}
	got, err := layout.Path(dir).Image(mustHash(t, digestOf(t, b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", ".tmp-*"))
	left2, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(left)+len(left2) != 0 {
		t.Errorf("temp files left: %v %v", left, left2)
	}
	// A layout without index.json is refused, not created.
	if err := WriteImage(t.TempDir(), a, "x"); err == nil || !strings.Contains(err.Error(), "reading OCI layout index") {
		t.Errorf("WriteImage into a non-layout: %v", err)
	}
	// A blob whose content does not hash to its name is refused.
	if err := writeBlob(dir, mustHash(t, "sha256:"+strings.Repeat("0", 64)), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "content hashes to") {
		t.Errorf("writeBlob with a wrong digest: %v", err)
	}
	if _, err := os.Stat(blobPath(dir, "sha256:"+strings.Repeat("0", 64))); err == nil {
		t.Error("a blob with a wrong digest was kept")
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var _ = name.Insecure
