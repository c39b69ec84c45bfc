// Package btmeta is the deterministic BitTorrent description of a blob,
// shared by the builder (which records each layer's infohash in the manifest
// it signs), the node runtime (which joins only swarms a verified manifest
// names) and the origin (which seeds what it stores).
//
// A blob's torrent is single-file and v1 (SHA-1 pieces). Its info dictionary
// is a function of the blob alone:
//
//   - name: the blob's sha256 digest as 64 lowercase hex characters;
//   - length: the blob's size in bytes;
//   - piece length: [PieceLength] of the size: the smallest power of two of
//     at least 64 KiB that cuts the blob into at most 1024 pieces, capped at
//     16 MiB (past 16 GiB the piece count grows instead);
//   - pieces: the SHA-1 of each piece, concatenated;
//
// and nothing else (no "private" flag, no source, no v2 fields), bencoded
// with its keys in sorted order. The SHA-1 of that encoding is the infohash,
// recorded on every layer descriptor under the annotation [Annotation] as 40
// lowercase hex characters.
//
// The package imports neither the builder nor the runtime, nor any torrent
// library: the encoding is small enough to write here and to check against
// anacrolix/torrent in runtime/p2p's tests.
package btmeta
