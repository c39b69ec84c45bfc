// Package archive is undistro's one reader of archives and its one rule
// set for what a safe tree entry is. Both sides use it: the builder when it
// extracts sources (builder/source), lists an archive for `recipe new`,
// writes a package layer (builder/layer) or exports a root file system
// (builder/image), and the node when it unpacks a layer (runtime/unpack).
// It imports nothing from either side.
//
// [Reader] reads a tar stream and returns only entries the [Checker] has
// accepted; its subpackage compression detects gzip, bzip2, xz or zstd from
// the first bytes (kept apart so the node, which unpacks uncompressed
// layers, does not carry the decoders). [ZipHeader] presents a zip
// archive's members as tar headers, so one Checker judges both.
//
// A [Checker] sees every header of one archive, in order, and refuses
// (with an [*Error] naming the entry and the [Rule], matching [ErrRefused]):
//
//   - empty or absolute entry names, names with a NUL byte or a ".."
//     component ([RuleName]);
//   - entries whose parent is a symlink or a non-directory entry of the same
//     archive ([RuleParent]);
//   - symlinks with an empty target or one that climbs above the root
//     ([RuleSymlink]). Targets are resolved lexically: a relative target
//     from the link's directory, an absolute target from the root of the
//     tree (an image root is "/" for the services that run in it, so
//     "/bin/busybox" stays inside). With [Rules.RelativeLinksOnly] (source
//     trees, whose root is not "/") absolute targets are refused too;
//   - hardlinks whose target is not a valid name, not an earlier
//     non-directory entry of the same archive, or a device, fifo or
//     setuid/setgid file on an undeclared path ([RuleHardlink]);
//   - character and block devices and fifos ([RuleSpecial]) and
//     setuid/setgid bits ([RuleSetuid]) unless the path is listed in
//     [Rules.Privileged] (setgid on a directory is fine); with
//     [Rules.NoSpecialFiles] devices and fifos are refused outright, with
//     [Rules.IgnoreSetuid] setuid bits are left to a writer that drops them;
//   - files larger than [Rules.MaxFileSize], archives whose files add up to
//     more than [Rules.MaxTotalSize] or with more than [Rules.MaxEntries]
//     entries ([RuleSize]);
//   - a second entry for a path already seen (a directory entry may be
//     repeated) ([RuleDuplicate]);
//   - entry types other than regular files, directories, symlinks,
//     hardlinks, devices and fifos, and sparse files ([RuleType]);
//   - whiteouts other than OCI's ".wh.NAME" and ".wh..wh..opq"
//     ([RuleWhiteout]); [Entry.Whiteout] and [Entry.Opaque] report the valid
//     ones, which only a layer may carry ([Rules.NoWhiteouts] refuses them
//     all, for a package's tree: the builder's layers).
//
// A Checker judges names and headers only. A writer still goes through an
// [os.Root] (or equivalent) so that nothing already on disk is followed.
package archive
