package builder

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/un-distro/undistro/builder/image"
	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/policy"
)

// TestSignedBuildVerifies builds the fixture role with a signing key and
// checks the node policy accepts the image in the layout, with an SBOM that
// lists exactly the image's packages.
func TestSignedBuildVerifies(t *testing.T) {
	ctx, repo, key, pass := signedFixture(t)
	out := filepath.Join(t.TempDir(), "oci")
	res, err := Build(ctx, []string{"app"}, WithRepo(repo), WithCache(t.TempDir()), WithOutput(out), WithSigning(key+".key", pass))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pol.Verify(ctx, "oci:"+out+":app", res[0].Digest)
	if err != nil {
		t.Fatalf("policy refused the signed build: %v", err)
	}
	var types []string
	for _, a := range got.Attestations {
		types = append(types, a.PredicateType)
	}
	for _, want := range []string{sign.PredicateSPDX, sign.PredicateSLSA1} {
		if !slices.Contains(types, want) {
			t.Errorf("attestations %v lack %s", types, want)
		}
	}

	// The SBOM the builder attaches is valid SPDX 2.3 and lists exactly
	// the packages of the image.
	meta := imageMeta(t, out, "app")
	doc, err := sbom.Generate(meta, "oci:"+out+":app", res[0].Digest, unixUTC(1700000000))
	if err != nil {
		t.Fatal(err)
	}
	if err := sbom.Validate(doc); err != nil {
		t.Fatalf("SBOM invalid: %v", err)
	}
	var parsed struct {
		Packages []struct{ Name string } `json:"packages"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parsed.Packages {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	// The image itself is the document's root package; the rest are
	// exactly the packages in it.
	if !slices.Equal(names, []string{"a", "app", "b", "c"}) {
		t.Fatalf("SBOM packages %v, want the image (app) and a b c", names)
	}
}

func imageMeta(t *testing.T, out, role string) *imagespec.Image {
	t.Helper()
	img, err := image.Load("oci:" + out + ":" + role)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := imagespec.Decode(cf.Config.Labels)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func unixUTC(s int64) time.Time { return time.Unix(s, 0).UTC() }

// signedFixture commits the fixture repository (SOURCE_DATE_EPOCH fixed)
// and generates a signing key pair KEY.key/KEY.pub with password pass.
func signedFixture(t *testing.T) (ctx context.Context, repo, key string, pass func() ([]byte, error)) {
	t.Helper()
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	ctx = context.Background()
	repo = t.TempDir()
	fixture(t, repo)
	git := exec.Command("sh", "-c", "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm fixture")
	git.Dir = repo
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git: %v\n%s", err, out)
	}
	pass = func() ([]byte, error) { return []byte("test"), nil }
	key = filepath.Join(t.TempDir(), "k")
	if err := sign.GenerateKey(ctx, key, pass); err != nil {
		t.Fatal(err)
	}
	return ctx, repo, key, pass
}
