package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on.
var (
	// ErrPrivateKey: the input holds a private key. Nothing is stored.
	ErrPrivateKey = errors.New("this is a private key")
	// ErrNotKey: the input is not a supported PEM public key.
	ErrNotKey = errors.New("not a supported public key")
	// ErrUnknownKey: Remove found no trusted key by that ID or file.
	ErrUnknownKey = errors.New("no such trusted key")
)

// MinRSABits is the smallest RSA modulus Parse accepts.
const MinRSABits = 2048

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

// Algorithm names a key's type for people: "ecdsa-p256", "ed25519",
// "rsa-4096".
func Algorithm(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case ed25519.PublicKey:
		return "ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", k)
}

// privateMarker is in the armor line of every PEM private key: "PRIVATE
// KEY", "EC PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED
// COSIGN PRIVATE KEY", "OPENSSH PRIVATE KEY".
const privateMarker = "PRIVATE KEY-----"

// Parse decodes every public key in b, a PEM file. It refuses the whole
// input with ErrPrivateKey if any part of it is a private key, and with
// ErrNotKey if a block is not a supported public key or there is none.
func Parse(b []byte) ([]crypto.PublicKey, error) {
	if bytes.Contains(b, []byte(privateMarker)) {
		return nil, fmt.Errorf("%w: a node needs only the public key (the .pub file of `undistro key generate` or `cosign generate-key-pair`); keep the private key on the signing machine", ErrPrivateKey)
	}
	var keys []crypto.PublicKey
	rest := b
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		k, err := parseBlock(blk)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM block %d (%q): %v", ErrNotKey, n, blk.Type, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no PEM block found (want -----BEGIN PUBLIC KEY-----, e.g. the .pub file of `undistro key generate`)", ErrNotKey)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w: %d bytes of non-PEM data after the last key", ErrNotKey, len(bytes.TrimSpace(rest)))
	}
	return keys, nil
}

func parseBlock(blk *pem.Block) (crypto.PublicKey, error) {
	if len(blk.Headers) > 0 {
		return nil, errors.New("PEM headers are not allowed in a public key")
	}
	var (
		k   crypto.PublicKey
		err error
	)
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return nil, errors.New("want a PUBLIC KEY block")
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return k, nil
		}
		return nil, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return k, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), MinRSABits)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want ECDSA, Ed25519 or RSA)", k)
}

// Encode returns k as a PKIX "PUBLIC KEY" PEM block, the form Add stores.
func Encode(k crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
