package sbom

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const webDigest = "sha256:4d2a1b0f4c1e7a6e7f5c9b8a1d2e3f4051627384950a1b2c3d4e5f60718293a4"

// webImage is metadata shaped like the shipped web role's.
func webImage() *imagespec.Image {
	return &imagespec.Image{
		SchemaVersion: imagespec.SchemaVersion,
		Role:          "web",
		Packages: []imagespec.Package{
			{Name: "whoami", Supplier: "Organization: github.com/traefik", Version: "1.10.3", License: "Apache-2.0", Source: "gomod:github.com/traefik/whoami@v1.10.3",
				SourceSum: "h1:abc=", BuildKey: "sha256:" + strings.Repeat("1", 64), DiffID: "sha256:" + strings.Repeat("a", 64)},
			{Name: "busybox", Supplier: "Organization: Debian", Version: "1:1.35.0-4+b3", License: "GPL-2.0-only", Source: "deb:busybox-static=1:1.35.0-4+b3",
				SourceSum: "sha256:" + strings.Repeat("2", 64), BuildKey: "sha256:" + strings.Repeat("3", 64), DiffID: "sha256:" + strings.Repeat("b", 64)},
			{Name: "ca-certificates", Supplier: "Organization: Debian", Version: "20230311", License: "MPL-2.0 AND GPL-2.0-or-later", Source: "deb:ca-certificates=20230311",
				SourceSum: "sha256:" + strings.Repeat("4", 64), BuildKey: "sha256:" + strings.Repeat("5", 64), DiffID: "sha256:" + strings.Repeat("c", 64)},
			{Name: "undistro", Supplier: "Organization: undistro", Version: "0.1.0", Revision: 2, License: "Apache-2.0", Source: "path:cmd/undistro",
				SourceSum: "sha256:" + strings.Repeat("6", 64), BuildKey: "sha256:" + strings.Repeat("7", 64), DiffID: "sha256:" + strings.Repeat("d", 64)},
			{Name: "hello", Supplier: "Organization: example.org", Version: "2.12.1", License: "GPL-3.0-or-later", Source: "url:https://example.org/hello-2.12.1.tar.gz",
				SourceSum: "sha256:" + strings.Repeat("8", 64), BuildKey: "sha256:" + strings.Repeat("9", 64), DiffID: "sha256:" + strings.Repeat("e", 64)},
			{Name: "odd_name", Supplier: "Person: Odd Name (odd@example.org)", Version: "1.0", License: "see COPYING file, it's ours", Source: "git:https://example.org/odd.git@" + strings.Repeat("f", 40),
				SourceSum: "git:" + strings.Repeat("f", 40)},
		},
	}
}

var epoch = time.Unix(1700000000, 0)

func TestGenerateWeb(t *testing.T) {
	img := webImage()
	b, err := Generate(img, "127.0.0.1:5000/undistro/web:latest", webDigest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("generated SBOM does not validate: %v\n%s", err, b)
	}
	testsupport.Golden(t, filepath.Join("testdata", "web.spdx.json"), b, *update)
	var doc Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Exactly the image's packages, plus the image itself.
	var got, wantNames []string
	for _, p := range doc.Packages[1:] {
		got = append(got, p.Name+"@"+p.VersionInfo)
	}
	for _, p := range img.Packages {
		v := p.Version
		if p.Revision > 0 {
			v += "_2"
		}
		wantNames = append(wantNames, p.Name+"@"+v)
	}
	sort.Strings(wantNames)
	if strings.Join(got, " ") != strings.Join(wantNames, " ") {
		t.Errorf("packages = %v, want %v", got, wantNames)
	}
	if doc.Packages[0].SPDXID != ImageID || doc.Packages[0].VersionInfo != webDigest {
		t.Errorf("first package = %+v, want the image", doc.Packages[0])
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %s, want SOURCE_DATE_EPOCH 2023-11-14T22:13:20Z", doc.CreationInfo.Created)
	}
	if !strings.HasSuffix(doc.DocumentNamespace, "/web/sha256-"+strings.TrimPrefix(webDigest, "sha256:")) {
		t.Errorf("namespace %s is not derived from the digest", doc.DocumentNamespace)
	}
	if len(doc.Relationships) != len(img.Packages)+1 {
		t.Errorf("%d relationships, want %d", len(doc.Relationships), len(img.Packages)+1)
	}
	// Deterministic: same input, same bytes, whatever the package order.
	img2 := webImage()
	img2.Packages[0], img2.Packages[3] = img2.Packages[3], img2.Packages[0]
	b2, err := Generate(img2, "127.0.0.1:5000/undistro/web:latest", webDigest, epoch.Add(999*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("SBOM is not deterministic")
	}
}

// TestGenerateSameWhereverBuilt: an OCI layout reference is a local path;
// the SBOM leaves it out, so the same image written to two directories
// gets the same bytes.
func TestGenerateSameWhereverBuilt(t *testing.T) {
	a, err := Generate(webImage(), "oci:/tmp/build-a/out:web", webDigest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(webImage(), "oci:/home/someone/elsewhere/oci:web", webDigest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("SBOMs of the same image differ by output directory:\n%s\n---\n%s", a, b)
	}
	if bytes.Contains(a, []byte("/tmp/build-a")) {
		t.Errorf("SBOM carries the local output path:\n%s", a)
	}
}

func TestGenerateFields(t *testing.T) {
	b, err := Generate(webImage(), "oci:/out:web", webDigest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]Package{}
	for _, p := range doc.Packages {
		byName[p.Name] = p
	}
	refs := func(p Package) string {
		var s []string
		for _, r := range p.ExternalRefs {
			s = append(s, r.ReferenceType+"="+r.ReferenceLocator)
		}
		return strings.Join(s, " ")
	}
	cases := []struct {
		pkg, field, got, want string
	}{
		{"hello", "downloadLocation", byName["hello"].DownloadLocation, "https://example.org/hello-2.12.1.tar.gz"},
		{"hello", "checksum", byName["hello"].Checksums[0].ChecksumValue, strings.Repeat("8", 64)},
		{"hello", "license", byName["hello"].LicenseDeclared, "GPL-3.0-or-later"},
		{"odd_name", "downloadLocation", byName["odd_name"].DownloadLocation, "git+https://example.org/odd.git@" + strings.Repeat("f", 40)},
		{"odd_name", "SPDXID", byName["odd_name"].SPDXID, "SPDXRef-Package-odd-name-1.0"},
		{"odd_name", "license", byName["odd_name"].LicenseDeclared, "NOASSERTION"},
		{"busybox", "refs", refs(byName["busybox"]), "purl=pkg:deb/debian/busybox-static@1:1.35.0-4+b3 undistro-build-key=sha256:" + strings.Repeat("3", 64) + " oci-layer-diffid=sha256:" + strings.Repeat("b", 64)},
		{"whoami", "purl", refs(byName["whoami"])[:len("purl=pkg:golang/github.com/traefik/whoami@v1.10.3")], "purl=pkg:golang/github.com/traefik/whoami@v1.10.3"},
		{"undistro", "version", byName["undistro"].VersionInfo, "0.1.0_2"},
		{"undistro", "downloadLocation", byName["undistro"].DownloadLocation, "NOASSERTION"},
		{"web", "purl", refs(byName["web"]), "purl=pkg:oci/web@sha256%3A" + strings.TrimPrefix(webDigest, "sha256:")},
	}
	for _, tc := range cases {
		t.Run(tc.pkg+"/"+tc.field, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	cases := []struct {
		name   string
		img    *imagespec.Image
		digest string
		want   string
	}{
		{"no metadata", nil, webDigest, "generating SBOM: no image metadata"},
		{"bad digest", webImage(), "sha256:xyz", `image digest "sha256:xyz" is not sha256:<64 hex>`},
		{"nameless package", &imagespec.Image{Role: "web", Packages: []imagespec.Package{{Version: "1"}}}, webDigest, "a package has no name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.img, "", tc.digest, epoch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good, err := Generate(webImage(), "", webDigest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	// mutate decodes good, changes it and re-encodes it.
	mutate := func(f func(d map[string]any)) []byte {
		var d map[string]any
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	pkg := func(d map[string]any, i int) map[string]any { return d["packages"].([]any)[i].(map[string]any) }
	cases := []struct {
		name string
		doc  []byte
		want string // "" = valid
	}{
		{"generated", good, ""},
		{"not JSON", []byte("{"), "decoding SPDX JSON"},
		{"missing spdxVersion", mutate(func(d map[string]any) { delete(d, "spdxVersion") }), `$: missing required property "spdxVersion"`},
		{"SPDX 2.2", mutate(func(d map[string]any) { d["spdxVersion"] = "SPDX-2.2" }), `$.spdxVersion: "SPDX-2.2", want "SPDX-2.3"`},
		{"data license", mutate(func(d map[string]any) { d["dataLicense"] = "MIT" }), `$.dataLicense: "MIT", want "CC0-1.0"`},
		{"document SPDXID", mutate(func(d map[string]any) { d["SPDXID"] = "SPDXRef-DOC" }), `$.SPDXID: "SPDXRef-DOC", want "SPDXRef-DOCUMENT"`},
		{"namespace not a URI", mutate(func(d map[string]any) { d["documentNamespace"] = "web" }), `$.documentNamespace: "web" is not an absolute URI`},
		{"namespace with fragment", mutate(func(d map[string]any) { d["documentNamespace"] = "https://x/y#z" }), "without a fragment"},
		{"created with offset", mutate(func(d map[string]any) { d["creationInfo"].(map[string]any)["created"] = "2023-11-14T22:13:20+01:00" }), "$.creationInfo.created:"},
		{"no creators", mutate(func(d map[string]any) { d["creationInfo"].(map[string]any)["creators"] = []any{} }), "$.creationInfo.creators: want at least 1 item(s)"},
		{"unknown property", mutate(func(d map[string]any) { d["sbomVersion"] = 1 }), `$: unknown property "sbomVersion"`},
		{"bad package SPDXID", mutate(func(d map[string]any) { pkg(d, 1)["SPDXID"] = "SPDXRef-a_b" }), `$.packages[1].SPDXID: "SPDXRef-a_b" does not match`},
		{"package without downloadLocation", mutate(func(d map[string]any) { delete(pkg(d, 2), "downloadLocation") }), `$.packages[2]: missing required property "downloadLocation"`},
		{"duplicate SPDXID", mutate(func(d map[string]any) { pkg(d, 2)["SPDXID"] = pkg(d, 1)["SPDXID"] }), "is not unique"},
		{"bad checksum algorithm", mutate(func(d map[string]any) {
			pkg(d, 0)["checksums"] = []any{map[string]any{"algorithm": "SHA-256", "checksumValue": "00"}}
		}), `$.packages[0].checksums[0].algorithm: "SHA-256" is not one of`},
		{"filesAnalyzed not boolean", mutate(func(d map[string]any) { pkg(d, 0)["filesAnalyzed"] = "false" }), "$.packages[0].filesAnalyzed: want a boolean"},
		{"dangling relationship", mutate(func(d map[string]any) {
			d["relationships"] = append(d["relationships"].([]any), map[string]any{"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-Nope"})
		}), `"SPDXRef-Nope" names no element`},
		{"bad relationship type", mutate(func(d map[string]any) {
			d["relationships"].([]any)[0].(map[string]any)["relationshipType"] = "HAS"
		}), `relationshipType: "HAS" is not one of`},
		{"package without supplier", mutate(func(d map[string]any) { delete(pkg(d, 2), "supplier") }), `$.packages[2].supplier: "": want "Organization: X" or "Person: X"`},
		{"supplier NOASSERTION", mutate(func(d map[string]any) { pkg(d, 1)["supplier"] = "NOASSERTION" }), `$.packages[1].supplier: "NOASSERTION"`},
		{"no author", mutate(func(d map[string]any) { d["creationInfo"].(map[string]any)["creators"] = []any{"Tool: undistro"} }), "the author of the SBOM data is missing"},
		{"package in no relationship", mutate(func(d map[string]any) {
			rels := d["relationships"].([]any)
			d["relationships"] = rels[:len(rels)-1]
		}), "takes part in no relationship"},
		{"package without version", mutate(func(d map[string]any) { delete(pkg(d, 3), "versionInfo") }), "$.packages[3].versionInfo: missing"},
		{"describes nothing", mutate(func(d map[string]any) { d["relationships"] = []any{} }), "the document DESCRIBES nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.doc)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate error = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "web.spdx.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"packages":[{"SPDXID":1}],"relationships":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Validate(b) // must not panic
	})
}
