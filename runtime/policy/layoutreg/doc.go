// Package layoutreg lets registry code read an OCI image layout on disk.
//
// An image on a node may come from a registry or from an OCI layout written
// by `undistro build` (referenced as oci:PATH:ROLE). cosign finds signatures
// and attestations by tag (sha256-<hex>.sig, sha256-<hex>.att) in a
// registry; in a layout the same images are kept under the same names in the
// org.opencontainers.image.ref.name annotation of index.json.
//
// Rather than a second verification path for layouts, this package serves a
// layout as a read-only OCI distribution registry through an in-process
// http.RoundTripper (no socket is opened): Resolve turns any reference into
// a go-containerregistry name plus the remote options that reach it, so the
// same code (runtime/policy on the node, cosign's library in builder/sign)
// reads registry and layout images. Every image of a layout is served in one
// repository (Host/Repository), so a signature's docker-reference cannot
// tell a layout's roles apart: the node binds a layout image to its role
// through the image metadata instead (runtime/node).
// WriteImage adds a small image (a signature or attestation image) to a
// layout atomically, blob by blob, then index.json by rename.
//
// It imports nothing from the builder: both the builder's signer and the
// runtime's policy use it.
package layoutreg
