// Package unpack extracts one uncompressed OCI layer tar into a directory,
// treating the tar as hostile input.
//
// Every filesystem call goes through an [os.Root] opened on the target
// directory, so nothing is ever created, followed or changed outside it.
// The tar is read and judged by internal/archive, the one rule set the
// builder also applies when it writes a package layer, so a package the
// node would refuse fails its build instead. Unpack refuses (with an
// [*archive.Error] naming the entry, the rule and the reason, matching
// [archive.ErrRefused]):
//
//   - absolute entry names and names with a ".." component;
//   - entries whose parent path goes through a symlink, or through a
//     non-directory;
//   - symlinks whose target escapes the root. Targets are resolved
//     lexically: a relative target from the link's directory, an absolute
//     target from the root of the layer (the image root is "/" for the
//     services that run in it, so "/bin/busybox" is fine and stays inside).
//     Any target that climbs above the root with ".." is refused, even an
//     absolute one such as "/../etc";
//   - hardlinks whose target is absolute, has "..", goes through a symlink,
//     is missing from this layer, or is a directory. Hardlinks may only point
//     at entries unpacked earlier in the same tar;
//   - character and block devices, fifos, and setuid/setgid bits, unless the
//     entry's path is listed in [Options.Privileged] (taken from the image
//     metadata, imagespec.Image.Privileged);
//   - files larger than [Options.MaxFileSize], layers whose files add up to
//     more than [Options.MaxTotalSize], tars with more than
//     [Options.MaxEntries] entries;
//   - a second entry for a path already unpacked (a directory entry may be
//     repeated: its mode and time are updated), and any entry for a path
//     that already exists in the target when Unpack starts;
//   - tar entry types other than regular files, directories, symlinks,
//     hardlinks, devices and fifos (sparse files, for example).
//
// OCI whiteouts are not written to the target. Because each layer is
// unpacked on its own and the node store merges layers later, Unpack
// reports them in [Stats]: Whiteouts lists the paths ".wh.NAME" entries
// delete from lower layers, Opaque lists the directories marked with
// ".wh..wh..opq" whose lower-layer contents are hidden. The merger applies
// them (opaque directories, then whiteouts) before it adds the layer's own
// entries, as the OCI image specification says.
//
// Unpack does not fsync: the caller syncs the whole filesystem once
// (syncfs) before it publishes the directory, which is much cheaper than
// one fsync per file.
package unpack
