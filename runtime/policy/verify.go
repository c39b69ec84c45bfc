package policy

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/un-distro/undistro/runtime/policy/layoutreg"
	"github.com/un-distro/undistro/runtime/trust"
)

// Error is a refused image: which image, why, and which of the sentinel
// errors (ErrUnsigned, ErrBadSignature, ErrDigestMismatch,
// ErrWrongRepository, ErrNoSBOM).
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

// cosign's names for what it stores beside an image.
const (
	signatureAnnotation = "dev.cosignproject.cosign/signature"
	dsseMediaType       = "application/vnd.dsse.envelope.v1+json"
	intotoPayloadType   = "application/vnd.in-toto+json"
	cosignSignatureType = "cosign container image signature"
	// maxAttachment bounds a signature payload or attestation envelope read
	// from a registry.
	maxAttachment = 4 << 20
)

// Verify checks that ref (a registry reference by tag or digest, or
// oci:PATH[:ROLE]) resolves to exactly digest, that a cosign signature over
// digest verifies with one of p.Keys and names the repository ref was
// resolved in (its docker-reference), and, if p.RequireSBOM, that an SPDX
// attestation about digest verifies with one of p.Keys. No transparency log
// is consulted. If digest is "", whatever ref resolves to now is verified:
// that is for interactive use; a node passes the digest it is about to pull.
//
// Only the manifest and the small .sig and .att images are read: Verify
// runs before any layer of the image is fetched.
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
	ro := append(append([]remote.Option{remote.WithContext(ctx)}, t.Remote...), p.Remote...)
	got, err := resolveDigest(t.Ref, ro)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: resolving its digest: %w", image, err)
	}
	if digest == "" {
		digest = got
	}
	if got != digest {
		return nil, &Error{Image: image, Digest: digest, Err: ErrDigestMismatch,
			Reason: fmt.Sprintf("the reference now resolves to %s, not the expected digest (the tag moved since it was resolved: resolve and verify again)", got)}
	}
	repo := t.Ref.Context()
	res := &Result{Image: image, Digest: digest, Repository: repo.Name()}
	vs, err := p.verifiers()
	if err != nil {
		return nil, err
	}
	a := &attachments{repo: repo, digest: digest, ro: ro}
	if err := a.verifySignatures(vs, res); err != nil {
		return nil, fail(image, digest, err)
	}
	if err := a.verifyAttestations(vs, res, p.RequireSBOM); err != nil {
		return nil, fail(image, digest, err)
	}
	return res, nil
}

func resolveDigest(ref name.Reference, ro []remote.Option) (string, error) {
	if d, ok := ref.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	desc, err := remote.Head(ref, ro...)
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
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
	id  string
	key crypto.PublicKey
}

func (p *Policy) verifiers() ([]keyVerifier, error) {
	out := make([]keyVerifier, 0, len(p.Keys))
	for _, k := range p.Keys {
		if _, err := trust.Encode(k); err != nil {
			return nil, fmt.Errorf("loading policy key: %w", err)
		}
		out = append(out, keyVerifier{id: trust.KeyID(k), key: k})
	}
	return out, nil
}

// attachments reads cosign's .sig and .att images of one digest.
type attachments struct {
	repo   name.Repository
	digest string
	ro     []remote.Option
}

// tag is cosign's tag for an attachment: sha256-HEX.suffix.
func (a *attachments) tag(suffix string) name.Tag {
	return a.repo.Tag(strings.Replace(a.digest, ":", "-", 1) + "." + suffix)
}

// blob is one layer of an attachment image, read (bounded) and checked
// against its digest.
type blob struct {
	desc v1.Descriptor
	data []byte
}

// read returns the layers of the attachment image at suffix; none when
// there is no such image.
func (a *attachments) read(suffix string) ([]blob, error) {
	tag := a.tag(suffix)
	img, err := remote.Image(tag, a.ro...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("fetching %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	var out []blob
	for _, d := range m.Layers {
		if d.Size > maxAttachment {
			return nil, fmt.Errorf("reading %s: layer %s is %d bytes, more than a signature or attestation can be", tag, d.Digest, d.Size)
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		rc, err := l.Compressed() // verified against d.Digest at EOF
		if err != nil {
			return nil, fmt.Errorf("reading %s layer %s: %w", tag, d.Digest, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxAttachment+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s layer %s: %w", tag, d.Digest, err)
		}
		if len(b) > maxAttachment || int64(len(b)) != d.Size {
			return nil, fmt.Errorf("reading %s: layer %s is not the %d bytes its descriptor says", tag, d.Digest, d.Size)
		}
		out = append(out, blob{desc: d, data: b})
	}
	return out, nil
}

func (a *attachments) verifySignatures(vs []keyVerifier, res *Result) error {
	st := a.tag("sig")
	list, err := a.read("sig")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return &refusal{ErrUnsigned, fmt.Sprintf("no cosign signature at %s: sign it with `undistro sign` (or `cosign sign`)", st.TagStr())}
	}
	var mismatch *refusal
	for _, s := range list {
		raw, err := base64.StdEncoding.DecodeString(s.desc.Annotations[signatureAnnotation])
		if err != nil || len(raw) == 0 {
			continue
		}
		for _, kv := range vs {
			if verifySig(kv.key, s.data, raw) != nil {
				continue
			}
			ss, err := decodeSimpleSigning(s.data)
			switch {
			case err != nil:
				mismatch = &refusal{ErrBadSignature, fmt.Sprintf("the signature by key %s has a payload that is not a cosign simple-signing document: %v", kv.id, err)}
			case ss.Critical.Image.DockerManifestDigest != a.digest:
				mismatch = &refusal{ErrDigestMismatch, fmt.Sprintf("the signature by key %s is over %s, not over this image (a signature copied from another image)", kv.id, ss.Critical.Image.DockerManifestDigest)}
			case ss.Critical.Identity.DockerReference != a.repo.Name():
				mismatch = &refusal{ErrWrongRepository, fmt.Sprintf("the signature by key %s was made for repository %q, not %q this image is pulled from (a signature copied from another repository)", kv.id, ss.Critical.Identity.DockerReference, a.repo.Name())}
			default:
				res.Signatures = append(res.Signatures, Signature{KeyID: kv.id, Digest: a.digest, Repository: ss.Critical.Identity.DockerReference, Layer: s.desc.Digest.String()})
			}
		}
	}
	if len(res.Signatures) > 0 {
		return nil
	}
	if mismatch != nil {
		return mismatch
	}
	return &refusal{ErrBadSignature, fmt.Sprintf("%d signature(s) at %s, none made by the trusted key(s) %s", len(list), st.TagStr(), ids(vs))}
}

func (a *attachments) verifyAttestations(vs []keyVerifier, res *Result, requireSBOM bool) error {
	at := a.tag("att")
	list, err := a.read("att")
	if err != nil {
		return err
	}
	var why []string
	for _, l := range list {
		if l.desc.MediaType != dsseMediaType {
			continue
		}
		for _, kv := range vs {
			st, err := verifyEnvelope(kv.key, l.data)
			if err != nil {
				why = append(why, err.Error())
				continue
			}
			if !st.about(a.digest) {
				why = append(why, fmt.Sprintf("a %s attestation by key %s is about another image", st.PredicateType, kv.id))
				continue
			}
			res.Attestations = append(res.Attestations, Attestation{KeyID: kv.id, PredicateType: st.PredicateType, Layer: l.desc.Digest.String()})
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
	const hint = "attach the SBOM with `undistro build --sign-key` or `cosign attest --type spdxjson`"
	switch {
	case len(types) > 0:
		return &refusal{ErrNoSBOM, fmt.Sprintf("verified attestations at %s are of types %s, none %s: %s", at.TagStr(), strings.Join(types, ", "), PredicateSPDX, hint)}
	case len(list) == 0:
		return &refusal{ErrNoSBOM, fmt.Sprintf("no attestation at %s: %s", at.TagStr(), hint)}
	}
	return &refusal{ErrNoSBOM, fmt.Sprintf("no attestation at %s verifies with the trusted key(s) %s (%s): %s", at.TagStr(), ids(vs), strings.Join(why, "; "), hint)}
}

func ids(vs []keyVerifier) string {
	s := make([]string, len(vs))
	for i, kv := range vs {
		s[i] = kv.id
	}
	return strings.Join(s, ", ")
}
