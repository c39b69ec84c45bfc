// Package layer writes deterministic, gzip-compressed OCI layer blobs from a
// directory tree (a package's $DESTDIR) or from a list of files (a role's
// config files).
//
// The output depends only on the tree's paths, contents, permission bits and
// link structure, and on [Options]: entries are emitted in a fixed walk order
// (lexical within each directory, a directory before its contents), every
// timestamp is the build epoch (SOURCE_DATE_EPOCH), owners are 0:0 unless
// declared, user and group names are empty, no host xattrs or PAX records are
// copied, and setuid/setgid bits are dropped unless the path is declared
// privileged. Compression is parallel gzip (klauspost/pgzip) with a fixed
// block size and level, so the blob is byte-identical whatever GOMAXPROCS is.
//
// The builder calls [Write] once per built package and [WriteFiles] once per
// role; builder/image then assembles the blobs into an image without
// recompressing them.
package layer
