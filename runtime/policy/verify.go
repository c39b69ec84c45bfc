package policy

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/un-distro/undistro/runtime/policy/layoutreg"
)

// Error is a refused image: which image, why, and which of the sentinel
// errors (ErrUnsigned, ErrBadSignature, ErrDigestMismatch, ErrNoSBOM).
type Error struct {
	Image  string
	Digest string
	Reason string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("refusing image %s (%s): %v: %s", e.Image, e.Digest, e.Err, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// Verify checks that ref (a registry reference by tag or digest, or
// oci:PATH[:ROLE]) resolves to exactly digest, that a cosign signature over
// digest verifies with one of p.Keys and, if p.RequireSBOM, that an SPDX
// attestation about digest verifies with one of p.Keys. No transparency log
// is consulted. If digest is "", whatever ref resolves to now is verified:
// that is for interactive use; a node passes the digest it pulled.
//
// It returns what verified, or an *Error wrapping the reason's sentinel;
// other errors (unreachable registry, missing image) are returned wrapped.
func (p *Policy) Verify(ctx context.Context, ref, digest string) (*Result, error) {
	if len(p.Keys) == 0 {
		return nil, errors.New("verifying image: the policy has no public keys")
	}
	if digest != "" {
		if _, err := checkDigest(digest); err != nil {
			return nil, fmt.Errorf("verifying %s: %w", ref, err)
		}
	}
	var nameOpts []name.Option
	if p.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	t, err := layoutreg.Resolve(ref, nameOpts...)
	if err != nil {
		return nil, err
	}
	image := t.String()
	ro := []ociremote.Option{ociremote.WithRemoteOptions(t.Remote...)}
	got, err := ociremote.ResolveDigest(t.Ref, ro...)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: resolving its digest: %w", image, err)
	}
	if digest == "" {
		digest = got.DigestStr()
	}
	if got.DigestStr() != digest {
		return nil, &Error{Image: image, Digest: digest, Err: ErrDigestMismatch,
			Reason: fmt.Sprintf("the reference now resolves to %s, not the expected digest (the tag moved since it was resolved: resolve and verify again)", got.DigestStr())}
	}
	dref := t.Ref.Context().Digest(digest)
	res := &Result{Image: image, Digest: digest}
	verifiers, err := p.verifiers()
	if err != nil {
		return nil, err
	}
	if err := verifySignatures(ctx, dref, ro, verifiers, res); err != nil {
		return nil, fail(image, digest, err)
	}
	if err := verifyAttestations(ctx, dref, ro, verifiers, res, p.RequireSBOM); err != nil {
		return nil, fail(image, digest, err)
	}
	return res, nil
}

// refusal is an Error without the image, filled in by fail.
type refusal struct {
	err    error
	reason string
}

func (r *refusal) Error() string { return r.err.Error() + ": " + r.reason }

func fail(image, digest string, err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return &Error{Image: image, Digest: digest, Err: r.err, Reason: r.reason}
	}
	return fmt.Errorf("verifying %s: %w", image, err)
}

type keyVerifier struct {
	id string
	v  signature.Verifier
}

func (p *Policy) verifiers() ([]keyVerifier, error) {
	out := make([]keyVerifier, 0, len(p.Keys))
	for _, k := range p.Keys {
		v, err := signature.LoadVerifier(k, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("loading policy key %s: %w", KeyID(k), err)
		}
		out = append(out, keyVerifier{id: KeyID(k), v: v})
	}
	return out, nil
}

func checkOpts(v signature.Verifier, ro []ociremote.Option, claims func(oci.Signature, v1.Hash, map[string]any) error) *cosign.CheckOpts {
	return &cosign.CheckOpts{
		RegistryClientOpts: ro,
		SigVerifier:        v,
		ClaimVerifier:      claims,
		IgnoreTlog:         true,
		IgnoreSCT:          true,
		Offline:            true,
	}
}

func verifySignatures(ctx context.Context, dref name.Digest, ro []ociremote.Option, vs []keyVerifier, res *Result) error {
	st, err := ociremote.SignatureTag(dref, ro...)
	if err != nil {
		return err
	}
	sigs, err := ociremote.Signatures(st, ro...)
	if err != nil {
		return fmt.Errorf("fetching signatures %s: %w", st, err)
	}
	list, err := sigs.Get()
	if err != nil {
		return fmt.Errorf("reading signatures %s: %w", st, err)
	}
	if len(list) == 0 {
		return &refusal{ErrUnsigned, fmt.Sprintf("no cosign signature at %s: sign it with `undistro sign` (or `cosign sign`)", st.TagStr())}
	}
	var lastErr error
	for _, kv := range vs {
		checked, _, err := cosign.VerifyImageSignatures(ctx, dref, checkOpts(kv.v, ro, cosign.SimpleClaimVerifier))
		if err != nil {
			lastErr = err
			continue
		}
		for _, s := range checked {
			pl, _ := s.Payload()
			l, _ := s.Digest()
			res.Signatures = append(res.Signatures, Signature{KeyID: kv.id, Digest: signedDigest(pl), Layer: l.String()})
		}
	}
	if len(res.Signatures) > 0 {
		return nil
	}
	// Tell a signature over another digest from one by another key: check
	// the signatures cryptographically ourselves.
	for _, s := range list {
		pl, err1 := s.Payload()
		raw, err2 := s.Signature()
		if err1 != nil || err2 != nil {
			continue
		}
		for _, kv := range vs {
			if kv.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(pl)) == nil {
				return &refusal{ErrDigestMismatch, fmt.Sprintf("the signature by key %s is over %s, not over this image (a signature copied from another image)", kv.id, signedDigest(pl))}
			}
		}
	}
	return &refusal{ErrBadSignature, fmt.Sprintf("%d signature(s) at %s, none made by the trusted key(s) %s (%v)", len(list), st.TagStr(), ids(vs), lastErr)}
}

func verifyAttestations(ctx context.Context, dref name.Digest, ro []ociremote.Option, vs []keyVerifier, res *Result, requireSBOM bool) error {
	var errs []string
	for _, kv := range vs {
		checked, _, err := cosign.VerifyImageAttestations(ctx, dref, checkOpts(kv.v, ro, cosign.IntotoSubjectClaimVerifier))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, a := range checked {
			pl, err := a.Payload()
			if err != nil {
				continue
			}
			pt, _, err := statementOf(pl)
			if err != nil {
				continue
			}
			l, _ := a.Digest()
			res.Attestations = append(res.Attestations, Attestation{KeyID: kv.id, PredicateType: pt, Layer: l.String()})
		}
	}
	sort.SliceStable(res.Attestations, func(i, j int) bool { return res.Attestations[i].PredicateType < res.Attestations[j].PredicateType })
	if !requireSBOM {
		return nil
	}
	var types []string
	for _, a := range res.Attestations {
		if a.PredicateType == PredicateSPDX {
			return nil
		}
		types = append(types, a.PredicateType)
	}
	at, err := ociremote.AttestationTag(dref, ro...)
	if err != nil {
		return err
	}
	if len(types) > 0 {
		return &refusal{ErrNoSBOM, fmt.Sprintf("verified attestations at %s are of types %s, none %s: attach the SBOM with `undistro build --sign-key` or `cosign attest --type spdxjson`", at.TagStr(), strings.Join(types, ", "), PredicateSPDX)}
	}
	if atts, err := ociremote.Signatures(at, ro...); err == nil {
		if l, err := atts.Get(); err == nil && len(l) == 0 {
			return &refusal{ErrNoSBOM, fmt.Sprintf("no attestation at %s: attach the SBOM with `undistro build --sign-key` or `cosign attest --type spdxjson`", at.TagStr())}
		}
	}
	return &refusal{ErrNoSBOM, fmt.Sprintf("no attestation at %s verifies with the trusted key(s) %s (%s): attach the SBOM with `undistro build --sign-key` or `cosign attest --type spdxjson`", at.TagStr(), ids(vs), strings.Join(errs, "; "))}
}

func ids(vs []keyVerifier) string {
	s := make([]string, len(vs))
	for i, kv := range vs {
		s[i] = kv.id
	}
	return strings.Join(s, ", ")
}
