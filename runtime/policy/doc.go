// Package policy is a node's image verification policy: the public keys an
// image must be signed by, and whether it must carry an SBOM. The runtime
// calls Verify before it fetches an image's layers; any error leaves the
// node as it was.
//
// Verification reads cosign's formats, offline, with the standard library
// and go-containerregistry only (no cosign or Rekor client, so the node
// binary stays small): the signature image at the cosign tag
// sha256-<hex>.sig must hold a simple-signing payload signed by one of the
// policy's keys that names exactly the digest the node is about to run and,
// as its docker-reference, the repository it is pulled from; with
// RequireSBOM the attestation image at sha256-<hex>.att must hold a DSSE
// envelope signed by a policy key whose in-toto statement is an SPDX
// document about that digest. Images in an OCI layout (oci:PATH:ROLE) are
// verified the same way: the layout is served as a registry in process by
// package layoutreg. Failures are typed (ErrUnsigned, ErrBadSignature,
// ErrDigestMismatch, ErrWrongRepository, ErrNoSBOM) and name the image and
// the reason.
//
// builder/sign's tests check this package against the real cosign CLI both
// ways. The package imports nothing from the builder.
package policy
