// Package cache is the content-addressed cache of built packages.
//
// An entry is keyed by [Key], a digest over everything that can change a
// build's output (the canonical recipe, the source digest, the effective
// options, the keys of the dependencies, the host tools' versions, the
// builder's version and SOURCE_DATE_EPOCH). It holds the built tree (used as
// a build dependency of later packages) and its layer blob, written once by
// builder/layer, so an unchanged package is neither rebuilt nor recompressed.
//
// [Cache.Put] builds an entry in a temporary directory, fsyncs it and renames
// it into place: after a crash an entry is complete or absent, and leftover
// temporary directories are removed by the next [Open]. [Cache.Get] reads
// one small JSON file and never hashes trees. [Cache.Import] adds an entry
// built elsewhere (builder/remotecache pulls one) from its layer blob and
// metadata, checked against each other and unpacked with the node's rules.
package cache
