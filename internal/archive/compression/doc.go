// Package compression detects and undoes the compression of an archive
// stream (gzip, bzip2, xz, zstd) from its first bytes, with bounds on the
// memory a hostile stream can make the decoders take. It is separate from
// internal/archive so that the node, which unpacks uncompressed layer
// tars, does not carry the decoders.
//
// xz is read by the package's own walker of the container format
// (xzreader.go, xzformat.go): it checks every stream header, block header,
// index, footer and stream padding of every concatenated stream, refuses
// a block whose LZMA2 dictionary is above 256 MiB before it is allocated,
// and gives ulikunitz/xz's LZMA2 decoder only each block's chunks,
// delimited by their framing, so the decoder never parses a header
// itself. BCJ and delta filters are refused (the decoder has none).
package compression
