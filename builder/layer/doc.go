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
// Every entry is judged, as it is written, by the rule set the node unpacks
// with (internal/archive, used by runtime/unpack): a tree the node would
// refuse — a symlink climbing out of the image root, a device, a setuid
// file on an undeclared path that was not dropped — fails here with an
// error naming the file and the rule, so a bad package fails its build
// rather than its deployment.
//
// The builder calls [Write] once per built package and [WriteFiles] once per
// role; builder/image then assembles the blobs into an image without
// recompressing them.
package layer
