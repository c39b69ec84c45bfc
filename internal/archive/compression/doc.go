// Package compression detects and undoes the compression of an archive
// stream (gzip, bzip2, xz, zstd) from its first bytes, with bounds on the
// memory a hostile stream can make the decoders take. It is separate from
// internal/archive so that the node, which unpacks uncompressed layer
// tars, does not carry the decoders.
//
// xz is read by github.com/xi2/xz (a port of XZ Embedded: every filter
// and check, concatenated streams, the index verified), which refuses a
// block whose LZMA2 dictionary is above 256 MiB when it parses the block's
// header, before allocating it, in every block of every stream.
// ulikunitz/xz, used before, takes a block's declared dictionary as a
// floor rather than a cap, and has no BCJ or delta filter.
package compression
