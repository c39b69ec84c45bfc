package imagespec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// labels returns the label values under testdata/labels: metadata of
// images the builder made (base.json, web.json, captured from `undistro
// build base web`) and hand-made edge cases.
func labels(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/labels/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/labels/*.json: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = strings.TrimSpace(string(b))
	}
	return out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		wantErr string
		is      error
		check   func(*testing.T, *Image)
	}{
		{name: "no labels", labels: nil, wantErr: "image has no undistro metadata", is: ErrNoMetadata},
		{name: "other labels only", labels: map[string]string{"org.opencontainers.image.title": "x"}, is: ErrNoMetadata, wantErr: "label " + Label},
		{name: "not JSON", labels: map[string]string{Label: "{"}, wantErr: "decoding image metadata: unexpected end of JSON input"},
		{name: "not an object", labels: map[string]string{Label: `"web"`}, wantErr: "decoding image metadata: json: cannot unmarshal string"},
		{name: "wrong type", labels: map[string]string{Label: `{"schemaVersion":1,"role":7}`}, wantErr: "decoding image metadata: json: cannot unmarshal number"},
		{name: "no schema version", labels: map[string]string{Label: `{"role":"web"}`}, wantErr: "image metadata schema version 0, this runtime reads 1: upgrade undistro"},
		{name: "newer schema", labels: map[string]string{Label: `{"schemaVersion":2,"role":"web"}`}, wantErr: "image metadata schema version 2, this runtime reads 1: upgrade undistro"},
		{name: "bad duration", labels: map[string]string{Label: `{"schemaVersion":1,"services":[{"name":"a","stopTimeout":"forever"}]}`},
			wantErr: `parsing duration "forever"`},
		{name: "duration not a string", labels: map[string]string{Label: `{"schemaVersion":1,"services":[{"name":"a","stopTimeout":5}]}`},
			wantErr: "decoding image metadata: json: cannot unmarshal number"},
		{name: "minimal", labels: map[string]string{Label: `{"schemaVersion":1,"role":"web","packages":[]}`},
			check: func(t *testing.T, img *Image) {
				if img.Role != "web" || len(img.Packages) != 0 || img.Services != nil {
					t.Errorf("decoded %+v", img)
				}
			}},
		{name: "service fields", labels: map[string]string{Label: `{"schemaVersion":1,"role":"r","packages":null,"services":[{"name":"db","exec":["/bin/db"],"restart":"always","stopTimeout":"1m30s","ready":{"tcp":"127.0.0.1:5432","timeout":"10s"}}]}`},
			check: func(t *testing.T, img *Image) {
				s := img.Service("db")
				if s == nil || s.Exec[0] != "/bin/db" || time.Duration(s.StopTimeout) != 90*time.Second ||
					s.Ready == nil || s.Ready.TCP != "127.0.0.1:5432" || time.Duration(s.Ready.Timeout) != 10*time.Second {
					t.Errorf("service = %+v", s)
				}
				if img.Service("nope") != nil {
					t.Error("Service(nope) is not nil")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(tc.labels)
			if tc.wantErr != "" || tc.is != nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Decode = %v, want an error containing %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
				if img != nil {
					t.Errorf("Decode returned %+v with its error", img)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, img)
		})
	}
}

// TestDecodeBuiltImages decodes the metadata of images the builder made.
func TestDecodeBuiltImages(t *testing.T) {
	for name, v := range labels(t) {
		if !strings.HasPrefix(name, "built-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			img, err := Decode(map[string]string{Label: v})
			if err != nil {
				t.Fatal(err)
			}
			role := strings.TrimSuffix(strings.TrimPrefix(name, "built-"), ".json")
			if img.Role != role || len(img.Packages) == 0 {
				t.Fatalf("role %q with %d packages, want role %q with packages", img.Role, len(img.Packages), role)
			}
			for _, p := range img.Packages {
				if p.Name == "" || !strings.HasPrefix(p.DiffID, "sha256:") || !strings.HasPrefix(p.BuildKey, "sha256:") {
					t.Errorf("package %+v lacks a name, diffID or build key", p)
				}
			}
			again, err := Encode(img)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, again, v) {
				t.Errorf("Encode(Decode(label)) differs from the label:\n%s\n%s", again, v)
			}
		})
	}
}

// TestEncodeDoesNotModify: Encode stamps the schema version on what it
// writes, not on its argument.
func TestEncodeDoesNotModify(t *testing.T) {
	img := &Image{Role: "web", Packages: []Package{{Name: "a", Files: []string{"x"}}},
		Services: []Service{{Name: "s", Ready: &Ready{TCP: ":80"}}}}
	before := *img
	before.Packages = append([]Package(nil), img.Packages...)
	v, err := Encode(img)
	if err != nil {
		t.Fatal(err)
	}
	if img.SchemaVersion != 0 || !reflect.DeepEqual(*img, before) {
		t.Fatalf("Encode modified its argument: %+v", img)
	}
	got, err := Decode(map[string]string{Label: v})
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != SchemaVersion || got.Role != "web" || got.Services[0].Ready.TCP != ":80" {
		t.Fatalf("round trip: %+v", got)
	}
}

// FuzzDecode feeds Decode label values, seeded with the metadata of built
// images: it never panics, and what it accepts encodes to a label that
// decodes to the same encoding.
func FuzzDecode(f *testing.F) {
	for _, v := range labels(f) {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		img, err := Decode(map[string]string{Label: v})
		if err != nil {
			if img != nil {
				t.Fatalf("Decode returned an image with error %v", err)
			}
			return
		}
		if img.SchemaVersion != SchemaVersion {
			t.Fatalf("accepted schema version %d", img.SchemaVersion)
		}
		enc, err := Encode(img)
		if err != nil {
			t.Fatalf("Encode of a decoded image: %v", err)
		}
		img2, err := Decode(map[string]string{Label: enc})
		if err != nil {
			t.Fatalf("Decode of an encoded image: %v\n%s", err, enc)
		}
		enc2, err := Encode(img2)
		if err != nil || enc2 != enc {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
