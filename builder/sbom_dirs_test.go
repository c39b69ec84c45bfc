package builder

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/runtime/policy"
)

// TestSBOMSameWhereverBuilt builds the same signed image into two output
// directories and compares the SBOMs attached to each: byte-identical, and
// every package has a supplier.
func TestSBOMSameWhereverBuilt(t *testing.T) {
	ctx, repo, key, pass := signedFixture(t)
	pol, err := policy.Load(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	var docs [][]byte
	for _, dir := range []string{"first", "second/deeper"} {
		out := filepath.Join(t.TempDir(), dir, "oci")
		res, err := Build(ctx, []string{"app"}, WithRepo(repo), WithCache(cache), WithOutput(out), WithSigning(key+".key", pass))
		if err != nil {
			t.Fatal(err)
		}
		got, err := pol.Verify(ctx, "oci:"+out+":app", res[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		var doc []byte
		for _, a := range got.Attestations {
			if a.PredicateType == sign.PredicateSPDX {
				doc = attachedPredicate(t, out, a.Layer)
			}
		}
		if doc == nil {
			t.Fatalf("no SPDX attestation in %s", out)
		}
		if bytes.Contains(doc, []byte(out)) {
			t.Errorf("SBOM carries the output path %s", out)
		}
		docs = append(docs, doc)
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Fatalf("SBOMs differ between output directories:\n%s\n---\n%s", docs[0], docs[1])
	}
	var parsed sbom.Document
	if err := json.Unmarshal(docs[0], &parsed); err != nil {
		t.Fatal(err)
	}
	for _, p := range parsed.Packages {
		if !strings.HasPrefix(p.Supplier, "Organization: ") {
			t.Errorf("package %s supplier %q, want Organization: (path sources are in-repo)", p.Name, p.Supplier)
		}
	}
	if err := sbom.Validate(mustIndent(t, docs[0])); err != nil {
		t.Errorf("attached SBOM is not valid: %v", err)
	}
}

// attachedPredicate returns the predicate of the DSSE-wrapped in-toto
// statement in the layout blob digest.
func attachedPredicate(t *testing.T, layout, digest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	return st.Predicate
}

func mustIndent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
