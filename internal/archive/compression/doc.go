// Package compression detects and undoes the compression of an archive
// stream (gzip, bzip2, xz, zstd) from its first bytes, with bounds on the
// memory a hostile stream can make the decoders take. It is separate from
// internal/archive so that the node, which unpacks uncompressed layer
// tars, does not carry the decoders.
package compression
