package sign

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/policy"
	"github.com/un-distro/undistro/runtime/policy/layoutreg"
)

const testSBOM = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"t","documentNamespace":"https://undistro.dev/spdx/t","creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: undistro"]},"packages":[]}`

// counts returns how many signatures and attestations ref has.
func counts(t *testing.T, ref, digest string) (sigs, atts int) {
	t.Helper()
	tg, err := layoutreg.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	ro := ociremote.WithRemoteOptions(tg.Remote...)
	d := tg.Ref.Context().Digest(digest)
	for i, tag := range []func(name.Reference, ...ociremote.Option) (name.Tag, error){ociremote.SignatureTag, ociremote.AttestationTag} {
		st, _ := tag(d, ro)
		s, err := ociremote.Signatures(st, ro)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Get()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sigs = len(l)
		} else {
			atts = len(l)
		}
	}
	return sigs, atts
}

// TestSignThenVerify signs and attests with this package and verifies with
// runtime/policy, on a registry and on an OCI layout.
func TestSignThenVerify(t *testing.T) {
	reg := imagetest.Registry(t)
	dir, layoutDigests := imagetest.RandomLayout(t, "web")
	layoutDigest := layoutDigests["web"]
	regDigest := imagetest.PushRandom(t, reg+"/undistro/web:latest")
	for _, tc := range []struct{ name, ref, digest string }{
		{"registry tag", reg + "/undistro/web:latest", regDigest},
		{"layout role", "oci:" + dir + ":web", layoutDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			prefix := newKeyPair(t)
			// The package functions once, then a Signer (one key decryption).
			got, err := Sign(ctx, tc.ref, prefix+".key", password)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.digest {
				t.Fatalf("Sign signed %s, want %s", got, tc.digest)
			}
			if err := Attest(ctx, tc.ref, prefix+".key", password, "spdxjson", []byte(testSBOM)); err != nil {
				t.Fatal(err)
			}
			s, err := NewSigner(prefix+".key", password)
			if err != nil {
				t.Fatal(err)
			}
			// Signing again keeps one signature and one SBOM.
			if got, err := s.Sign(ctx, tc.ref); err != nil || got != tc.digest {
				t.Fatalf("Signer.Sign = %s, %v; want %s", got, err, tc.digest)
			}
			if err := s.Attest(ctx, tc.ref, PredicateSPDX, []byte(testSBOM)); err != nil {
				t.Fatal(err)
			}
			if err := s.Attest(ctx, tc.ref, PredicateSLSA1, []byte(`{"buildDefinition":{}}`)); err != nil {
				t.Fatal(err)
			}
			if s, a := counts(t, tc.ref, tc.digest); s != 1 || a != 2 {
				t.Errorf("%d signatures, %d attestations; want 1, 2", s, a)
			}
			p, err := policy.Load(prefix + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Verify(ctx, tc.ref, tc.digest)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, a := range res.Attestations {
				types = append(types, a.PredicateType)
			}
			if len(res.Signatures) != 1 || strings.Join(types, " ") != "https://slsa.dev/provenance/v1 https://spdx.dev/Document" {
				t.Errorf("verified %+v", res)
			}
			// Another node key refuses it.
			other, _ := policy.Load(newKeyPair(t) + ".pub")
			if _, err := other.Verify(ctx, tc.ref, tc.digest); !errors.Is(err, policy.ErrBadSignature) {
				t.Errorf("verify with another key: %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	reg := imagetest.Registry(t)
	ref := reg + "/undistro/web:latest"
	digest := imagetest.PushRandom(t, ref)
	prefix := newKeyPair(t)
	ctx := context.Background()
	wrongPass := func() ([]byte, error) { return []byte("nope"), nil }
	signer, err := NewSigner(prefix+".key", password)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"wrong password", func() error { _, err := Sign(ctx, ref, prefix+".key", wrongPass); return err },
			"loading signing key " + prefix + ".key: decrypt: encrypted: decryption failed (wrong password"},
		{"missing key", func() error { _, err := Sign(ctx, ref, prefix+".nope", password); return err },
			"reading signing key: open " + prefix + ".nope: no such file"},
		{"public key as private", func() error { _, err := Sign(ctx, ref, prefix+".pub", password); return err },
			"unsupported pem type: PUBLIC KEY"},
		{"unknown tag", func() error { _, err := signer.Sign(ctx, reg+"/undistro/web:nope"); return err },
			"resolving " + reg + "/undistro/web:nope"},
		{"bad reference", func() error { _, err := signer.Sign(ctx, "Not A Ref"); return err },
			`parsing image reference "Not A Ref"`},
		{"bad tlog URL", func() error { _, err := NewSigner(prefix+".key", password, WithTlog("rekor")); return err },
			`transparency log URL "rekor": want http(s)://HOST`},
		{"predicate type not a URI", func() error { return signer.Attest(ctx, ref, "sbom", []byte("{}")) },
			`predicate type "sbom" is not a URI`},
		{"predicate not JSON", func() error { return signer.Attest(ctx, ref, "spdxjson", []byte("{")) },
			"the https://spdx.dev/Document predicate is not valid JSON"},
		{"statement about another image", func() error {
			st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`
			return signer.Attest(ctx, ref, PredicateSLSA1, []byte(st))
		}, "statement's subjects do not include the image digest " + digest},
		{"statement of another type", func() error {
			st := `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`
			return signer.Attest(ctx, ref, PredicateSPDX, []byte(st))
		}, `statement has predicate type "https://slsa.dev/provenance/v1", expected "https://spdx.dev/Document"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
