package sign

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/logctx"
)

// ErrKeyExists is returned by GenerateKey when PREFIX.key or PREFIX.pub is
// already there: a key is never overwritten.
var ErrKeyExists = errors.New("key file already exists")

// PassFunc returns the password of a private key.
type PassFunc func() ([]byte, error)

// GenerateKey writes a new ECDSA P-256 key pair in cosign's format:
// PREFIX.key (encrypted with the password, mode 0600) and PREFIX.pub (PEM
// public key). Both are written atomically; if either exists GenerateKey
// writes nothing and returns ErrKeyExists.
func GenerateKey(ctx context.Context, prefix string, password PassFunc) error {
	if prefix == "" {
		return errors.New("generating key: empty output prefix")
	}
	keyPath, pubPath := prefix+".key", prefix+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("generating key: %s: %w (remove it or choose another --out)", p, ErrKeyExists)
		}
	}
	if password == nil {
		return errors.New("generating key: no password source")
	}
	if fi, err := os.Stat(filepath.Dir(keyPath)); err != nil || !fi.IsDir() {
		return fmt.Errorf("generating key: directory of %s: %w", keyPath, statErr(err))
	}
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password() })
	if err != nil {
		return fmt.Errorf("generating key: %w", err)
	}
	if err := createExclusive(keyPath, kb.PrivateBytes, 0o600); err != nil {
		return err
	}
	if err := createExclusive(pubPath, kb.PublicBytes, 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	logctx.From(ctx).DebugContext(ctx, "generated key pair", "key", keyPath, "pub", pubPath)
	return nil
}

// createExclusive writes b to dst atomically, failing if dst exists.
func createExclusive(dst string, b []byte, mode fs.FileMode) error {
	if err := atomicfile.CreateNew(dst, b, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("generating key: %s: %w", dst, ErrKeyExists)
		}
		return err
	}
	return nil
}

// loadSigner reads and decrypts a cosign private key.
func loadSigner(keyPath string, pass PassFunc) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	var pw []byte
	if pass != nil {
		if pw, err = pass(); err != nil {
			return nil, fmt.Errorf("reading password for %s: %w", keyPath, err)
		}
	}
	sv, err := cosign.LoadPrivateKey(b, pw, nil)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w (wrong password, or not a cosign private key: make one with `undistro key generate`)", keyPath, err)
	}
	return sv, nil
}

func statErr(err error) error {
	if err == nil {
		return errors.New("not a directory")
	}
	return err
}

// PublicKey returns the public half of the Signer's key: what a verifier
// trusts to accept what this Signer signs.
func (s *Signer) PublicKey() (crypto.PublicKey, error) {
	k, err := s.sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	return k, nil
}
