package imagetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/runtime/policy/layoutreg"
)

// Signer signs test images as `cosign sign` and `cosign attest --type
// spdxjson` do (builder/sign's tests check those formats against the cosign
// CLI), with a fresh ECDSA P-256 key.
type Signer struct {
	key *ecdsa.PrivateKey
	// PublicPEM is the public key, as a cosign .pub file holds it.
	PublicPEM []byte
}

// NewSigner makes a Signer with a new key.
func NewSigner(t testing.TB) *Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{key: k, PublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (s *Signer) sign(t testing.TB, msg []byte) string {
	t.Helper()
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// Sign signs the image ref (oci:DIR:ROLE or a registry reference) resolves
// to, for the repository it is in, and attaches a signed SPDX attestation
// about it. It returns the digest signed.
func (s *Signer) Sign(t testing.TB, ref string) string {
	t.Helper()
	tg, err := layoutreg.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tg.Ref, tg.Remote...)
	if err != nil {
		t.Fatal(err)
	}
	digest := desc.Digest.String()
	repo := tg.Ref.Context()
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo.Name(), digest)
	sigImg := attachment(t, payload, "application/vnd.dev.cosign.simplesigning.v1+json",
		map[string]string{"dev.cosignproject.cosign/signature": s.sign(t, payload)})
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo.Name(), "digest": map[string]string{"sha256": desc.Digest.Hex}}},
		"predicateType": "https://spdx.dev/Document",
		"predicate":     map[string]any{"spdxVersion": "SPDX-2.3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	const pt = "application/vnd.in-toto+json"
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(pt), pt, len(st), st)
	env, err := json.Marshal(map[string]any{"payloadType": pt, "payload": base64.StdEncoding.EncodeToString(st),
		"signatures": []any{map[string]string{"keyid": "", "sig": s.sign(t, pae)}}})
	if err != nil {
		t.Fatal(err)
	}
	attImg := attachment(t, env, "application/vnd.dsse.envelope.v1+json", map[string]string{"predicateType": "https://spdx.dev/Document"})
	put(t, tg, repo, AttachmentTag(digest, "sig"), sigImg)
	put(t, tg, repo, AttachmentTag(digest, "att"), attImg)
	return digest
}

// AttachmentTag is cosign's tag for a signature ("sig") or attestation
// ("att") of digest.
func AttachmentTag(digest, suffix string) string {
	return strings.Replace(digest, ":", "-", 1) + "." + suffix
}

func attachment(t testing.TB, body []byte, mt types.MediaType, ann map[string]string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(body, mt), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func put(t testing.TB, tg *layoutreg.Target, repo name.Repository, tag string, img v1.Image) {
	t.Helper()
	if tg.Layout != "" {
		if err := layoutreg.WriteImage(tg.Layout, img, tag); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := remote.Write(repo.Tag(tag), img, tg.Remote...); err != nil {
		t.Fatal(err)
	}
}
