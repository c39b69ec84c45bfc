// Package policy is a node's image verification policy: the public keys an
// image must be signed by, and whether it must carry an SBOM. The runtime
// calls Verify before it switches to an image; any error leaves the node as
// it was.
//
// Verification is cosign's own (github.com/sigstore/cosign/v2/pkg/cosign),
// offline: the signature at the cosign tag sha256-<hex>.sig must verify
// with one of the policy's keys and its payload must name exactly the digest
// the node is about to run; with RequireSBOM an SPDX attestation at
// sha256-<hex>.att must verify with a policy key and have the image digest
// as its subject. Images in an OCI layout (oci:PATH:ROLE) are verified the
// same way: the layout is served to cosign as a registry in process by
// package layoutreg. Failures are typed (ErrUnsigned, ErrBadSignature,
// ErrDigestMismatch, ErrNoSBOM) and name the image and the reason.
//
// The package imports nothing from the builder.
package policy
