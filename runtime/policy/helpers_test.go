package policy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/un-distro/undistro/runtime/policy/layoutreg"
)

// These helpers sign with cosign's library directly, independently of
// builder/sign (which the runtime must not import); builder/sign's tests
// check the two against each other and against the cosign CLI.

type testKey struct {
	sv     signature.SignerVerifier
	pub    crypto.PublicKey
	pubPEM string // path of the .pub file
}

func newKey(t testing.TB) *testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "k.pub")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testKey{sv: sv, pub: priv.Public(), pubPEM: p}
}

// resolved returns the target and digest reference of ref.
func resolved(t testing.TB, ref string) (*layoutreg.Target, name.Digest) {
	t.Helper()
	tg, err := layoutreg.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ociremote.ResolveDigest(tg.Ref, ociremote.WithRemoteOptions(tg.Remote...))
	if err != nil {
		t.Fatal(err)
	}
	return tg, d
}

// sign stores at dref's signature tag a signature whose payload claims
// claimed (normally dref itself).
func (k *testKey) sign(t testing.TB, tg *layoutreg.Target, dref, claimed name.Digest) {
	t.Helper()
	pl, err := (&payload.Cosign{Image: claimed}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := k.sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	se, err := mutate.AttachSignatureToEntity(ociremote.SignedUnknown(dref, ociremote.WithRemoteOptions(tg.Remote...)), sig)
	if err != nil {
		t.Fatal(err)
	}
	img, err := se.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	store(t, tg, dref, img, "sig")
}

// attest stores an in-toto attestation of predicateType about dref.
func (k *testKey) attest(t testing.TB, tg *layoutreg.Target, dref name.Digest, predicateType string) {
	t.Helper()
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": dref.Context().Name(), "digest": map[string]string{"sha256": strings.TrimPrefix(dref.DigestStr(), "sha256:")}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{"spdxVersion": "SPDX-2.3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := dsse.WrapSigner(k.sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	att, err := static.NewAttestation(env, static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType}))
	if err != nil {
		t.Fatal(err)
	}
	se, err := mutate.AttachAttestationToEntity(ociremote.SignedUnknown(dref, ociremote.WithRemoteOptions(tg.Remote...)), att)
	if err != nil {
		t.Fatal(err)
	}
	img, err := se.Attestations()
	if err != nil {
		t.Fatal(err)
	}
	store(t, tg, dref, img, "att")
}

func store(t testing.TB, tg *layoutreg.Target, dref name.Digest, img v1.Image, suffix string) {
	t.Helper()
	tag := strings.Replace(dref.DigestStr(), ":", "-", 1) + "." + suffix
	if tg.Layout != "" {
		if err := layoutreg.WriteImage(tg.Layout, img, tag); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := remote.Write(dref.Context().Tag(tag), img, tg.Remote...); err != nil {
		t.Fatal(err)
	}
}

// copyAttachment copies the .sig or .att image of from to the tag of to.
func copyAttachment(t testing.TB, tg *layoutreg.Target, from, to name.Digest, suffix string) {
	t.Helper()
	src := from.Context().Tag(strings.Replace(from.DigestStr(), ":", "-", 1) + "." + suffix)
	img, err := remote.Image(src, tg.Remote...)
	if err != nil {
		t.Fatal(err)
	}
	store(t, tg, to, img, suffix)
}

var _ = context.Background
