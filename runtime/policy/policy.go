package policy

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

	keyIDs []string
}

// Load reads PEM public keys (cosign .pub files; a file may hold several)
// into a Policy that requires an SBOM.
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
		keys, err := parsePublicKeys(b)
		if err != nil {
			return nil, fmt.Errorf("loading verification policy: %s: %w: pass the .pub file of `undistro key generate` or `cosign generate-key-pair`", path, err)
		}
		p.Keys = append(p.Keys, keys...)
	}
	return p, nil
}

// KeyID is a public key's fingerprint: "sha256:" and the hex SHA-256 of its
// DER (PKIX) encoding.
func KeyID(k crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "unknown"
	}
	s := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Result is what Verify checked.
type Result struct {
	// Image is the reference as given; Digest the manifest digest verified.
	Image  string `json:"image"`
	Digest string `json:"digest"`
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
	// Layer is the digest of the signature layer in the .sig image.
	Layer string `json:"layer"`
}

// Attestation is one verified in-toto attestation.
type Attestation struct {
	KeyID         string `json:"keyID"`
	PredicateType string `json:"predicateType"`
	Layer         string `json:"layer"`
}

// simpleSigning is the part of cosign's payload that names the digest.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
	} `json:"critical"`
}

func signedDigest(payload []byte) string {
	var s simpleSigning
	if json.Unmarshal(payload, &s) != nil {
		return ""
	}
	return s.Critical.Image.DockerManifestDigest
}

// statementOf decodes the in-toto statement inside a DSSE envelope.
func statementOf(envelope []byte) (predicateType string, subjects []string, err error) {
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return "", nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", nil, fmt.Errorf("decoding DSSE payload: %w", err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	for _, s := range st.Subject {
		if d, ok := s.Digest["sha256"]; ok {
			subjects = append(subjects, "sha256:"+d)
		}
	}
	return st.PredicateType, subjects, nil
}

func checkDigest(d string) (v1.Hash, error) {
	h, err := v1.NewHash(d)
	if err != nil || h.Algorithm != "sha256" {
		return v1.Hash{}, fmt.Errorf("expected digest %q: want sha256:<64 hex>", d)
	}
	return h, nil
}

// parsePublicKeys decodes every PUBLIC KEY block of a PEM file.
func parsePublicKeys(b []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q is not a PUBLIC KEY (is this the private key?)", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}
