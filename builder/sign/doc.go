// Package sign signs undistro images with cosign, as a library.
//
// GenerateKey writes a cosign-compatible encrypted key pair. Sign stores a
// cosign "simple signing" signature over an image's manifest digest where
// every cosign client looks for it: the tag sha256-<hex>.sig of the image's
// repository. Attest stores a DSSE-signed in-toto statement (an SPDX SBOM or
// a SLSA provenance) at sha256-<hex>.att. Both work on registry references
// and on OCI layouts (oci:PATH:ROLE), where the signature and attestation
// images are added to the same layout under the ref.name
// sha256-<hex>.sig / .att, so runtime/policy verifies either the same way.
//
// Signing is offline by default: nothing is sent to a transparency log.
// WithTlog uploads to a Rekor instance for online use.
package sign
