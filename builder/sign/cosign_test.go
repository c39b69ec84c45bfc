package sign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/builder/provenance"
	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/policy"
)

// realAttestations returns the SBOM and provenance undistro makes for an
// image, so the CLI checks the documents the builder really attaches.
func realAttestations(t *testing.T, repo, digest string) (spdx, slsa []byte) {
	t.Helper()
	img := &imagespec.Image{Role: "web", Packages: []imagespec.Package{
		{Name: "busybox", Version: "1.35.0", License: "GPL-2.0-only", Source: "deb:busybox-static=1:1.35.0-4+b3",
			SourceSum: "sha256:" + strings.Repeat("1", 64), BuildKey: "sha256:" + strings.Repeat("2", 64)},
	}}
	spdx, err := sbom.Generate(img, repo, digest, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	slsa, err = provenance.Generate(repo, digest, provenance.Params{
		Roles: []string{"web"}, Repository: "https://github.com/un-distro/undistro", Commit: strings.Repeat("c", 40),
		Recipes:        []provenance.Material{{URI: "recipes/busybox.toml", Digest: map[string]string{"sha256": strings.Repeat("3", 64)}}},
		BuilderVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return spdx, slsa
}

// TestCosignCLIInterop checks undistro's signatures against the real cosign
// CLI, both ways, on a registry on loopback. It skips only when the cosign
// binary is absent.
func TestCosignCLIInterop(t *testing.T) {
	cosignBin(t)
	ctx := context.Background()
	reg := imagetest.Registry(t)
	work := t.TempDir()
	mustCosign := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := runCosign(t, work, args...)
		if err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	// A key pair made by the cosign CLI.
	mustCosign(t, "generate-key-pair", "--output-key-prefix", "cli")
	cliKey, cliPub := filepath.Join(work, "cli.key"), filepath.Join(work, "cli.pub")
	// A key pair made by GenerateKey.
	ourPrefix := newKeyPair(t)
	ourKey, ourPub := ourPrefix+".key", ourPrefix+".pub"
	sbom := filepath.Join(work, "sbom.spdx.json")
	if err := os.WriteFile(sbom, []byte(testSBOM), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("undistro sign, cosign verify", func(t *testing.T) {
		for _, key := range []struct{ name, key, pub string }{{"our key", ourKey, ourPub}, {"cosign key", cliKey, cliPub}} {
			t.Run(key.name, func(t *testing.T) {
				ref := reg + "/ours/" + strings.ReplaceAll(key.name, " ", "-") + ":latest"
				digest := imagetest.PushRandom(t, ref)
				s, err := NewSigner(key.key, password)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Sign(ctx, ref); err != nil {
					t.Fatal(err)
				}
				repo := strings.TrimSuffix(ref, ":latest")
				spdx, slsa := realAttestations(t, repo, digest)
				if err := s.Attest(ctx, ref, PredicateSPDX, spdx); err != nil {
					t.Fatal(err)
				}
				if err := s.Attest(ctx, ref, PredicateSLSA1, slsa); err != nil {
					t.Fatal(err)
				}
				byDigest := repo + "@" + digest
				out := mustCosign(t, "verify", "--key", key.pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
				if !strings.Contains(out, `"docker-manifest-digest":"`+digest+`"`) {
					t.Errorf("cosign verify output does not name %s:\n%s", digest, out)
				}
				out = mustCosign(t, "verify-attestation", "--type", "spdxjson", "--key", key.pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
				if !strings.Contains(out, `"payloadType":"application/vnd.in-toto+json"`) {
					t.Errorf("cosign verify-attestation output:\n%s", out)
				}
				mustCosign(t, "verify-attestation", "--type", "slsaprovenance1", "--key", key.pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
				if out, err := runCosign(t, work, "verify-attestation", "--type", "cyclonedx", "--key", key.pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest); err == nil {
					t.Errorf("cosign found a CycloneDX attestation that was never made:\n%s", out)
				}
				// cosign must refuse a wrong key, or this test proves nothing.
				other := ourPub
				if key.pub == ourPub {
					other = cliPub
				}
				if out, err := runCosign(t, work, "verify", "--key", other, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest); err == nil {
					t.Errorf("cosign verify accepted the wrong key:\n%s", out)
				}
			})
		}
	})

	t.Run("cosign sign, undistro verify", func(t *testing.T) {
		for _, key := range []struct{ name, key, pub string }{{"cosign key", cliKey, cliPub}, {"our key", ourKey, ourPub}} {
			t.Run(key.name, func(t *testing.T) {
				ref := reg + "/theirs/" + strings.ReplaceAll(key.name, " ", "-") + ":latest"
				digest := imagetest.PushRandom(t, ref)
				byDigest := strings.TrimSuffix(ref, ":latest") + "@" + digest
				mustCosign(t, "sign", "--key", key.key, "--tlog-upload=false", "--allow-http-registry", "-y", byDigest)
				p, err := policy.Load(key.pub)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Verify(ctx, ref, digest); err == nil || !strings.Contains(err.Error(), "no verified SPDX SBOM attestation") {
					t.Fatalf("Verify before the SBOM: %v, want ErrNoSBOM", err)
				}
				mustCosign(t, "attest", "--key", key.key, "--type", "spdxjson", "--predicate", sbom, "--tlog-upload=false", "--allow-http-registry", "-y", byDigest)
				res, err := p.Verify(ctx, ref, digest)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Signatures) != 1 || res.Signatures[0].Digest != digest || len(res.Attestations) != 1 || res.Attestations[0].PredicateType != policy.PredicateSPDX {
					t.Errorf("verified %+v", res)
				}
			})
		}
	})
}
