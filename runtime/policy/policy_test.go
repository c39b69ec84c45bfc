package policy

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/policy/layoutreg"
	"github.com/un-distro/undistro/runtime/trust"
)

// fixture holds two images, A and B, in one backend.
type fixture struct {
	refA, refB       string
	digestA, digestB string
	// retag makes refA point to image B.
	retag func(t testing.TB)
}

type backend struct {
	name string
	new  func(t testing.TB) *fixture
}

var backends = []backend{
	{"registry", func(t testing.TB) *fixture {
		reg := imagetest.Registry(t)
		f := &fixture{refA: reg + "/app:web", refB: reg + "/app:other"}
		f.digestA = imagetest.PushRandom(t, f.refA)
		f.digestB = imagetest.PushRandom(t, f.refB)
		f.retag = func(t testing.TB) {
			rb, _ := name.ParseReference(f.refB)
			ra, _ := name.ParseReference(f.refA)
			b, err := remote.Image(rb)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ra, b); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}},
	{"layout", func(t testing.TB) *fixture {
		dir, ds := imagetest.RandomLayout(t, "web", "other")
		f := &fixture{refA: "oci:" + dir + ":web", refB: "oci:" + dir + ":other", digestA: ds["web"], digestB: ds["other"]}
		f.retag = func(t testing.TB) {
			h, _ := v1.NewHash(f.digestB)
			img, err := layout.Path(dir).Image(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := layoutreg.WriteImage(dir, img, "web"); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}},
}

func TestVerify(t *testing.T) {
	type keys struct{ trusted, other *testKey }
	trusted := func(k keys) *testKey { return k.trusted }
	other := func(k keys) *testKey { return k.other }
	// onA signs image A with signer's key and attests it with
	// attester's, a predicate of type pred; nil is none.
	onA := func(signer, attester func(keys) *testKey, pred string) func(*testing.T, *fixture, keys) {
		return func(t *testing.T, f *fixture, k keys) {
			tg, d := resolved(t, f.refA)
			if signer != nil {
				signer(k).sign(t, tg, d, d)
			}
			if attester != nil {
				attester(k).attest(t, tg, d, pred)
			}
		}
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T, f *fixture, k keys)
		policy  func(k keys) *Policy // nil: trusted key, SBOM required
		wantErr error
		wantMsg string // substring of the error
	}{
		{
			name:  "signed with SBOM",
			setup: onA(trusted, trusted, PredicateSPDX),
		},
		{
			name:  "signed by the second policy key",
			setup: onA(trusted, trusted, PredicateSPDX),
			policy: func(k keys) *Policy {
				return &Policy{Keys: []crypto.PublicKey{k.other.pub, k.trusted.pub}, RequireSBOM: true}
			},
		},
		{
			name:   "no SBOM required",
			setup:  onA(trusted, nil, ""),
			policy: func(k keys) *Policy { return &Policy{Keys: []crypto.PublicKey{k.trusted.pub}} },
		},
		{
			name:    "no signature",
			setup:   func(t *testing.T, f *fixture, k keys) {},
			wantErr: ErrUnsigned,
			wantMsg: "image is not signed: no cosign signature at sha256-",
		},
		{
			name:    "signed by another key",
			setup:   onA(other, other, PredicateSPDX),
			wantErr: ErrBadSignature,
			wantMsg: "no signature verifies with the node's keys: 1 signature(s) at sha256-",
		},
		{
			name: "tag moved to another digest after signing",
			setup: func(t *testing.T, f *fixture, k keys) {
				onA(trusted, trusted, PredicateSPDX)(t, f, k)
				f.retag(t)
			},
			wantErr: ErrDigestMismatch,
			wantMsg: "the reference now resolves to",
		},
		{
			name: "signature over a different digest",
			setup: func(t *testing.T, f *fixture, k keys) {
				tgB, dB := resolved(t, f.refB)
				k.trusted.sign(t, tgB, dB, dB)
				_, dA := resolved(t, f.refA)
				copyAttachment(t, tgB, dB, dA, "sig")
			},
			wantErr: ErrDigestMismatch,
			wantMsg: "a signature copied from another image",
		},
		{
			name: "payload claims another digest",
			setup: func(t *testing.T, f *fixture, k keys) {
				tg, dA := resolved(t, f.refA)
				_, dB := resolved(t, f.refB)
				k.trusted.sign(t, tg, dA, dB)
			},
			wantErr: ErrDigestMismatch,
			wantMsg: "not over this image",
		},
		{
			name:    "SBOM missing",
			setup:   onA(trusted, nil, ""),
			wantErr: ErrNoSBOM,
			wantMsg: "no verified SPDX SBOM attestation: no attestation at sha256-", // nothing at all
		},
		{
			name:    "only a provenance attestation",
			setup:   onA(trusted, trusted, "https://slsa.dev/provenance/v1"),
			wantErr: ErrNoSBOM,
			wantMsg: "are of types https://slsa.dev/provenance/v1, none https://spdx.dev/Document",
		},
		{
			name:    "SBOM signed by another key",
			setup:   onA(trusted, other, PredicateSPDX),
			wantErr: ErrNoSBOM,
			wantMsg: "verifies with the trusted key(s)",
		},
		{
			name: "SBOM about another image",
			setup: func(t *testing.T, f *fixture, k keys) {
				tgB, dB := resolved(t, f.refB)
				k.trusted.attest(t, tgB, dB, PredicateSPDX)
				tg, dA := resolved(t, f.refA)
				k.trusted.sign(t, tg, dA, dA)
				copyAttachment(t, tgB, dB, dA, "att")
			},
			wantErr: ErrNoSBOM,
			wantMsg: "no attestation at sha256-",
		},
	}
	for _, be := range backends {
		for _, tc := range cases {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := be.new(t)
				k := keys{trusted: newKey(t), other: newKey(t)}
				tc.setup(t, f, k)
				p := &Policy{Keys: []crypto.PublicKey{k.trusted.pub}, RequireSBOM: true}
				if tc.policy != nil {
					p = tc.policy(k)
				}
				res, err := p.Verify(context.Background(), f.refA, f.digestA)
				if tc.wantErr == nil {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if res.Digest != f.digestA || len(res.Signatures) != 1 || res.Signatures[0].Digest != f.digestA {
						t.Fatalf("result = %+v, want one signature over %s", res, f.digestA)
					}
					if res.Signatures[0].KeyID != trust.KeyID(k.trusted.pub) {
						t.Errorf("key = %s, want %s", res.Signatures[0].KeyID, trust.KeyID(k.trusted.pub))
					}
					if p.RequireSBOM && (len(res.Attestations) != 1 || res.Attestations[0].PredicateType != PredicateSPDX) {
						t.Errorf("attestations = %+v, want one SPDX", res.Attestations)
					}
					return
				}
				t.Logf("refused: %v", err)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
				}
				var pe *Error
				if !errors.As(err, &pe) || pe.Digest != f.digestA {
					t.Fatalf("error %v is not a *policy.Error naming %s", err, f.digestA)
				}
				for _, want := range []string{tc.wantMsg, "refusing image ", strings.TrimPrefix(strings.TrimPrefix(f.refA, "oci:"), "")} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
			})
		}
	}
}

func TestVerifyLayoutWithoutRole(t *testing.T) {
	dir, ds := imagetest.RandomLayout(t, "web")
	k := newKey(t)
	tg, d := resolved(t, "oci:"+dir+":web")
	k.sign(t, tg, d, d)
	k.attest(t, tg, d, PredicateSPDX)
	p, err := Load(k.pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The .sig and .att images now in the layout are not taken for the image.
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + "@" + ds["web"]} {
		if _, err := p.Verify(context.Background(), ref, ds["web"]); err != nil {
			t.Errorf("Verify(%s): %v", ref, err)
		}
	}
}

func TestVerifyBadInput(t *testing.T) {
	k := newKey(t)
	dir, ds := imagetest.RandomLayout(t, "web", "other")
	cases := []struct {
		name, ref, digest, want string
		p                       *Policy
	}{
		{"no keys", "oci:" + dir + ":web", ds["web"], "the policy has no public keys", &Policy{}},
		{"bad digest", "oci:" + dir + ":web", "sha256:abc", `expected digest "sha256:abc": want sha256:<64 hex>`, nil},
		{"missing layout", "oci:" + dir + "/nope:web", ds["web"], "opening OCI layout", nil},
		{"unknown role", "oci:" + dir + ":db", ds["web"], "resolving its digest", nil},
		{"ambiguous layout", "oci:" + dir, ds["web"], "the layout holds 2 images (web, other): name one as oci:PATH:ROLE", nil},
		{"bad reference", "UPPER CASE", ds["web"], "parsing image reference", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if p == nil {
				p = &Policy{Keys: []crypto.PublicKey{k.pub}, RequireSBOM: true}
			}
			_, err := p.Verify(context.Background(), tc.ref, tc.digest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	both := write("both.pub", read(k1.pubPEM)+read(k2.pubPEM))
	cases := []struct {
		name     string
		paths    []string
		wantKeys int
		wantErr  string
	}{
		{"one key", []string{k1.pubPEM}, 1, ""},
		{"two files", []string{k1.pubPEM, k2.pubPEM}, 2, ""},
		{"two keys in one file", []string{both}, 2, ""},
		{"no paths", nil, 0, "no public key given"},
		{"missing file", []string{filepath.Join(dir, "nope.pub")}, 0, "no such file"},
		{"not PEM", []string{write("junk.pub", "hello")}, 0, "junk.pub: not a supported public key: no PEM block found"},
		{"private key", []string{write("k.key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")}, 0, "k.key: this is a private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(tc.paths...)
			if testsupport.WantErr(t, err, tc.wantErr) {
				return
			}
			if len(p.Keys) != tc.wantKeys || !p.RequireSBOM {
				t.Fatalf("Load = %d keys, RequireSBOM %v; want %d, true", len(p.Keys), p.RequireSBOM, tc.wantKeys)
			}
		})
	}
}

// TestVerifySignatureCopiedToAnotherRepository: base's image, signature and
// SBOM copied next to web's tag verify cryptographically, but the
// signature's docker-reference names base, so pulling it as web is refused.
func TestVerifySignatureCopiedToAnotherRepository(t *testing.T) {
	ctx := context.Background()
	reg := imagetest.Registry(t)
	k := newKey(t)
	digest := imagetest.PushRandom(t, reg+"/undistro/base:latest")
	tg, dBase := resolved(t, reg+"/undistro/base:latest")
	k.sign(t, tg, dBase, dBase)
	k.attest(t, tg, dBase, PredicateSPDX)
	p := &Policy{Keys: []crypto.PublicKey{k.pub}, RequireSBOM: true}
	if res, err := p.Verify(ctx, reg+"/undistro/base:latest", digest); err != nil || res.Signatures[0].Repository != reg+"/undistro/base" {
		t.Fatalf("base: %+v, %v", res, err)
	}
	src, _ := name.ParseReference(reg + "/undistro/base:latest")
	dst, _ := name.ParseReference(reg + "/undistro/web:latest")
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	dWeb := dst.Context().Digest(digest)
	copyAttachment(t, tg, dBase, dWeb, "sig")
	copyAttachment(t, tg, dBase, dWeb, "att")
	_, err = p.Verify(ctx, reg+"/undistro/web:latest", digest)
	want := fmt.Sprintf(`signed for another repository: the signature by key %s was made for repository "%s/undistro/base", not "%s/undistro/web"`, trust.KeyID(k.pub), reg, reg)
	if !errors.Is(err, ErrWrongRepository) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify = %v, want %q", err, want)
	}
}
