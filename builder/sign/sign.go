package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	rekor "github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/policy/layoutreg"
)

// Predicate types undistro attests.
const (
	PredicateSPDX       = "https://spdx.dev/Document"
	PredicateSLSA1      = "https://slsa.dev/provenance/v1"
	statementTypeV1     = "https://in-toto.io/Statement/v1"
	predicateAnnotation = "predicateType"
)

// target is an image resolved to its digest.
type target struct {
	t      *layoutreg.Target
	digest name.Digest
	oci    []ociremote.Option
}

func resolve(ref string, o *options) (*target, error) {
	t, err := layoutreg.Resolve(ref, o.nameOpts...)
	if err != nil {
		return nil, err
	}
	if t.Layout == "" && len(o.remote) > 0 {
		t.Remote = append(t.Remote, o.remote...)
	}
	ro := []ociremote.Option{ociremote.WithRemoteOptions(t.Remote...)}
	d, err := ociremote.ResolveDigest(t.Ref, ro...)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return &target{t: t, digest: d, oci: ro}, nil
}

// attachmentName is cosign's tag for an attachment of digest d.
func attachmentName(d name.Digest, suffix string) string {
	return strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix
}

// Signer signs and attests images with one decrypted cosign key. Make one
// with NewSigner to sign many images (or an image and its attestations)
// while decrypting the key once.
type Signer struct {
	sv signature.SignerVerifier
	o  *options
}

// NewSigner decrypts the cosign private key at keyPath with the password
// pass returns. opts apply to every Sign and Attest of the Signer.
func NewSigner(keyPath string, pass PassFunc, opts ...Option) (*Signer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	sv, err := loadSigner(keyPath, pass)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, o: o}, nil
}

// Sign signs the manifest digest of ref (a registry reference by tag or
// digest, or oci:PATH:ROLE) with the cosign private key at keyPath, and
// stores the signature at the cosign tag sha256-<hex>.sig (in a layout: the
// ref.name of that name). Signing an image twice with the same key keeps one
// signature. It returns the digest signed.
func Sign(ctx context.Context, ref, keyPath string, pass PassFunc, opts ...Option) (string, error) {
	s, err := NewSigner(keyPath, pass, opts...)
	if err != nil {
		return "", err
	}
	return s.Sign(ctx, ref)
}

// Sign is the package-level Sign with the Signer's key and options.
func (s *Signer) Sign(ctx context.Context, ref string) (string, error) {
	o, sv := s.o, s.sv
	tg, err := resolve(ref, o)
	if err != nil {
		return "", err
	}
	pl, err := (&payload.Cosign{Image: tg.digest}).MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encoding signature payload: %w", err)
	}
	raw, err := sv.SignMessage(bytes.NewReader(pl), sigopts.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("signing %s: %w", tg.digest, err)
	}
	var sopts []static.Option
	if o.tlogURL != "" {
		b, err := uploadTlog(ctx, o.tlogURL, sv, func(c *rekorClient, pem []byte) (*logEntry, error) {
			h := sha256.New()
			h.Write(pl)
			return cosign.TLogUpload(ctx, c, raw, h, pem)
		})
		if err != nil {
			return "", err
		}
		sopts = append(sopts, static.WithBundle(b))
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw), sopts...)
	if err != nil {
		return "", fmt.Errorf("building signature: %w", err)
	}
	se, err := mutate.AttachSignatureToEntity(ociremote.SignedUnknown(tg.digest, tg.oci...), sig,
		mutate.WithDupeDetector(cremote.NewDupeDetector(sv)))
	if err != nil {
		return "", fmt.Errorf("attaching signature: %w", err)
	}
	if tg.t.Layout != "" {
		sigs, err := se.Signatures()
		if err != nil {
			return "", fmt.Errorf("collecting signatures: %w", err)
		}
		err = layoutreg.WriteImage(tg.t.Layout, sigs, attachmentName(tg.digest, "sig"))
		if err != nil {
			return "", fmt.Errorf("storing signature in %s: %w", tg.t.Layout, err)
		}
	} else if err := ociremote.WriteSignatures(tg.digest.Repository, se, tg.oci...); err != nil {
		return "", fmt.Errorf("pushing signature of %s: %w", tg.digest, err)
	}
	logctx.From(ctx).DebugContext(ctx, "signed", "image", tg.t.String(), "digest", tg.digest.DigestStr())
	return tg.digest.DigestStr(), nil
}

// predicateTypes maps cosign's short names to predicate type URIs.
var predicateTypes = map[string]string{
	"spdxjson":        PredicateSPDX,
	"slsaprovenance1": PredicateSLSA1,
}

// statement is an in-toto Statement v1.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Attest signs an in-toto statement about the image ref with the key at
// keyPath (DSSE, as `cosign attest` does) and stores it at the cosign tag
// sha256-<hex>.att, replacing an earlier attestation of the same predicate
// type. predicateType is a URI (PredicateSPDX, PredicateSLSA1, or any other)
// or cosign's short name "spdxjson" / "slsaprovenance1". predicate is the
// predicate JSON; if it is already a whole in-toto Statement of that
// predicate type (as provenance.Generate returns), it is signed as is after
// checking that one of its subjects is the image digest.
func Attest(ctx context.Context, ref, keyPath string, pass PassFunc, predicateType string, predicate []byte, opts ...Option) error {
	s, err := NewSigner(keyPath, pass, opts...)
	if err != nil {
		return err
	}
	return s.Attest(ctx, ref, predicateType, predicate)
}

// Attest is the package-level Attest with the Signer's key and options.
func (s *Signer) Attest(ctx context.Context, ref, predicateType string, predicate []byte) error {
	o, sv := s.o, s.sv
	if u, ok := predicateTypes[predicateType]; ok {
		predicateType = u
	}
	if !strings.Contains(predicateType, ":") {
		return fmt.Errorf("attesting %s: predicate type %q is not a URI (or spdxjson, slsaprovenance1)", ref, predicateType)
	}
	if !json.Valid(predicate) {
		return fmt.Errorf("attesting %s: the %s predicate is not valid JSON", ref, predicateType)
	}
	tg, err := resolve(ref, o)
	if err != nil {
		return err
	}
	stmt, err := makeStatement(tg.digest, predicateType, predicate)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", ref, err)
	}
	env, err := dsse.WrapSigner(sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(stmt), sigopts.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("signing attestation for %s: %w", tg.digest, err)
	}
	sopts := []static.Option{
		static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{predicateAnnotation: predicateType}),
	}
	if o.tlogURL != "" {
		b, err := uploadTlog(ctx, o.tlogURL, sv, func(c *rekorClient, pem []byte) (*logEntry, error) {
			return cosign.TLogUploadDSSEEnvelope(ctx, c, env, pem)
		})
		if err != nil {
			return err
		}
		sopts = append(sopts, static.WithBundle(b))
	}
	att, err := static.NewAttestation(env, sopts...)
	if err != nil {
		return fmt.Errorf("building attestation: %w", err)
	}
	se, err := mutate.AttachAttestationToEntity(ociremote.SignedUnknown(tg.digest, tg.oci...), att,
		mutate.WithDupeDetector(cremote.NewDupeDetector(sv)),
		mutate.WithReplaceOp(cremote.NewReplaceOp(predicateType)))
	if err != nil {
		return fmt.Errorf("attaching attestation: %w", err)
	}
	if tg.t.Layout != "" {
		atts, err := se.Attestations()
		if err != nil {
			return fmt.Errorf("collecting attestations: %w", err)
		}
		if err := layoutreg.WriteImage(tg.t.Layout, atts, attachmentName(tg.digest, "att")); err != nil {
			return fmt.Errorf("storing attestation in %s: %w", tg.t.Layout, err)
		}
	} else if err := ociremote.WriteAttestations(tg.digest.Repository, se, tg.oci...); err != nil {
		return fmt.Errorf("pushing attestation of %s: %w", tg.digest, err)
	}
	logctx.From(ctx).DebugContext(ctx, "attested", "image", tg.t.String(), "digest", tg.digest.DigestStr(), "predicateType", predicateType)
	return nil
}

// makeStatement wraps predicate in a Statement about d, or checks a
// Statement passed whole.
func makeStatement(d name.Digest, predicateType string, predicate []byte) ([]byte, error) {
	hex := strings.TrimPrefix(d.DigestStr(), "sha256:")
	var whole statement
	if err := json.Unmarshal(predicate, &whole); err == nil && whole.Type != "" && whole.PredicateType != "" {
		if whole.PredicateType != predicateType {
			return nil, fmt.Errorf("statement has predicate type %q, expected %q", whole.PredicateType, predicateType)
		}
		for _, s := range whole.Subject {
			if s.Digest["sha256"] == hex {
				return predicate, nil
			}
		}
		return nil, fmt.Errorf("statement's subjects do not include the image digest %s", d.DigestStr())
	}
	b, err := json.Marshal(statement{
		Type:          statementTypeV1,
		Subject:       []subject{{Name: d.Context().Name(), Digest: map[string]string{"sha256": hex}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	return b, nil
}

// uploadTlog sends an entry to Rekor and returns the bundle to store.
func uploadTlog(ctx context.Context, url string, sv signature.SignerVerifier, up func(*rekorClient, []byte) (*logEntry, error)) (*cbundle.RekorBundle, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	c, err := rekor.GetRekorClient(url)
	if err != nil {
		return nil, fmt.Errorf("connecting to transparency log %s: %w", url, err)
	}
	e, err := up(c, pem)
	if err != nil {
		return nil, fmt.Errorf("uploading to transparency log %s: %w", url, err)
	}
	if e == nil {
		return nil, errors.New("uploading to transparency log: no entry returned")
	}
	logctx.From(ctx).InfoContext(ctx, "transparency log entry created", "index", *e.LogIndex)
	return cbundle.EntryToBundle(e), nil
}

var _ oci.SignedEntity = ociremote.SignedUnknown(name.Digest{})
