// Package trust is a node's trust store: the public keys images must be
// signed by, kept one PEM file per key in ROOT/keys.
//
// Keys are validated before anything is stored: Parse accepts ECDSA
// (P-256, P-384, P-521), Ed25519 and RSA (2048 bits or more) public keys in
// PEM (PKIX "PUBLIC KEY", as cosign's .pub files, or PKCS#1 "RSA PUBLIC
// KEY") and refuses any input that holds a private key, encrypted cosign
// keys included, with ErrPrivateKey. Add writes each key atomically, 0644
// (keys are public), in a 0700 directory, named by its KeyID; List, Remove
// and Load read the directory afresh on every call, so a running daemon
// sees a change at its next verification without a restart.
//
// The package imports nothing but the standard library: the builder's
// signer, the runtime's policy and the CLI share its KeyID.
package trust
