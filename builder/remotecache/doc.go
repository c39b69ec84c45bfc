// Package remotecache shares built packages through an OCI registry, as
// Homebrew shares bottles: a builder that built a package pushes it, and
// another builder pointed at the same registry pulls it instead of
// building it.
//
// An entry lives at REPO/cache/NAME:HEX, HEX being the 64 hex digits of
// the package's build key (builder/cache.Key, a digest over everything
// that can change the output). It is an OCI manifest whose config blob
// (media type ConfigMediaType) is the package's cache metadata (the
// cache.Entry JSON: key, layer digests and sizes, file list) and whose one
// layer is the package's layer blob, byte for byte as builder/layer wrote
// it, so an image assembled from a pulled package is identical to one
// built from source. The manifest digest is signed cosign-style
// (builder/sign) by the key of the builder that pushed it.
//
// Pull trusts nothing it reads: the manifest digest is computed from its
// bytes, a cosign signature over it must verify with one of the trusted
// keys (runtime/policy) and name the entry's repository, and every blob
// must match its digest; cache.Import then checks the layer against the
// metadata and unpacks it with the node's rules.
package remotecache
