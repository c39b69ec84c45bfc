package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/runtime/trust"
)

// Verification failures. Verify's errors wrap exactly one of them; check
// with errors.Is.
var (
	// ErrUnsigned: no cosign signature is stored for the image digest.
	ErrUnsigned = errors.New("image is not signed")
	// ErrBadSignature: signatures exist but none verifies with a policy key.
	ErrBadSignature = errors.New("no signature verifies with the node's keys")
	// ErrDigestMismatch: the reference resolves to another digest than the
	// one expected, or the signature was made over another digest.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrWrongRepository: the signature verifies but was made for another
	// repository than the one the image is pulled from (its payload's
	// docker-reference).
	ErrWrongRepository = errors.New("signed for another repository")
	// ErrNoSBOM: no SPDX attestation verifies with a policy key.
	ErrNoSBOM = errors.New("no verified SPDX SBOM attestation")
)

// PredicateSPDX is the in-toto predicate type of an SPDX SBOM attestation.
const PredicateSPDX = "https://spdx.dev/Document"

// Policy is what a node requires of an image before running it.
type Policy struct {
	// Keys are the trusted cosign public keys; a signature by any one is
	// accepted.
	Keys []crypto.PublicKey
	// RequireSBOM requires an SPDX attestation signed by a policy key.
	// Load sets it to true.
	RequireSBOM bool
	// Insecure allows plain-HTTP registries other than localhost.
	Insecure bool
	// Remote are go-containerregistry options applied after the
	// reference's own, for example a transport that reaches the registry's
	// content through peers (runtime/peerreg). Default: none.
	Remote []remote.Option

	keyIDs []string
}

// Load reads PEM public keys (cosign .pub files; a file may hold several;
// see trust.Parse for what is accepted) into a Policy that requires an SBOM.
func Load(paths ...string) (*Policy, error) {
	if len(paths) == 0 {
		return nil, errors.New("loading verification policy: no public key given (generate one with `undistro key generate`)")
	}
	p := &Policy{RequireSBOM: true}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("loading verification policy: %w", err)
		}
		keys, err := trust.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("loading verification policy: %s: %w", path, err)
		}
		p.Keys = append(p.Keys, keys...)
	}
	return p, nil
}

// Result is what Verify checked.
type Result struct {
	// Image is the reference as given; Digest the manifest digest verified.
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Repository is the repository the image was resolved in, which its
	// signatures name.
	Repository string `json:"repository"`
	// Signatures are the signatures that verified.
	Signatures []Signature `json:"signatures"`
	// Attestations are the attestations that verified.
	Attestations []Attestation `json:"attestations,omitempty"`
}

// Signature is one verified signature.
type Signature struct {
	// KeyID is the fingerprint of the policy key that verified it.
	KeyID string `json:"keyID"`
	// Digest is the manifest digest the signature's payload names.
	Digest string `json:"signedDigest"`
	// Repository is the payload's docker-reference.
	Repository string `json:"signedRepository"`
	// Layer is the digest of the signature layer in the .sig image.
	Layer string `json:"layer"`
}

// Attestation is one verified in-toto attestation.
type Attestation struct {
	KeyID         string `json:"keyID"`
	PredicateType string `json:"predicateType"`
	Layer         string `json:"layer"`
}

// simpleSigning is the part of cosign's signature payload (Red Hat's
// "simple signing" format) that the node checks.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

func decodeSimpleSigning(payload []byte) (*simpleSigning, error) {
	var s simpleSigning
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, err
	}
	if s.Critical.Type != cosignSignatureType {
		return nil, fmt.Errorf("critical.type is %q, want %q", s.Critical.Type, cosignSignatureType)
	}
	return &s, nil
}

// verifySig checks sig over msg the way cosign does for a key: ECDSA
// (ASN.1) and RSA (PKCS #1 v1.5) over the SHA-256 of msg, Ed25519 over msg.
func verifySig(k crypto.PublicKey, msg, sig []byte) error {
	sum := sha256.Sum256(msg)
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, sum[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
			return nil
		}
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
	return errors.New("invalid signature")
}

// statement is the part of an in-toto statement the node checks.
type statement struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

// about reports whether digest is one of the statement's subjects.
func (st *statement) about(digest string) bool {
	for _, s := range st.Subject {
		if "sha256:"+s.Digest["sha256"] == digest {
			return true
		}
	}
	return false
}

// envelope is a DSSE envelope.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		Sig string `json:"sig"`
	} `json:"signatures"`
}

// pae is DSSE's pre-authentication encoding, what a DSSE signature signs.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// verifyEnvelope checks that a signature of the DSSE envelope b verifies
// with k and returns the in-toto statement it carries.
func verifyEnvelope(k crypto.PublicKey, b []byte) (*statement, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	if env.PayloadType != intotoPayloadType {
		return nil, fmt.Errorf("DSSE payload type %q, want %q", env.PayloadType, intotoPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("decoding DSSE payload: %w", err)
	}
	msg := pae(env.PayloadType, payload)
	ok := false
	for _, s := range env.Signatures {
		if sig, err := base64.StdEncoding.DecodeString(s.Sig); err == nil && verifySig(k, msg, sig) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("no signature of the envelope verifies with key %s", trust.KeyID(k))
	}
	return decodeStatement(payload)
}

func decodeStatement(payload []byte) (*statement, error) {
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	return &st, nil
}

func checkDigest(d string) (v1.Hash, error) {
	h, err := v1.NewHash(d)
	if err != nil || h.Algorithm != "sha256" {
		return v1.Hash{}, fmt.Errorf("expected digest %q: want sha256:<64 hex>", d)
	}
	return h, nil
}
