// Package etcmerge keeps a node's writable /etc, as ostree does.
//
// An image's files under /etc are defaults. The node keeps the /etc its
// services see at ROOT/etc (the only writable part of their root) and,
// under ROOT/conf, a copy of what it last installed there (the base,
// ROOT/conf/base/, listed in ROOT/conf/etc.json). A switch is a three-way
// merge per file of base (the old image), want (the new image, with its
// templates rendered) and local (ROOT/etc):
//
//   - local equals base: the file follows the image (added, updated,
//     removed);
//   - the image did not change the file: the local edit is kept;
//   - local already equals the new image's file: nothing to do;
//   - both changed: the role's merge policy decides: "keep" the local
//     edit, take the "image" file, or "refuse" the switch naming the file.
//
// Files the operator added that no image ever shipped are left alone.
// Every write is atomic (temp, fsync, rename); the manifest is written
// last, so a crash part-way leaves a state a second merge completes.
package etcmerge
