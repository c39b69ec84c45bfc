// Package atomicfile is the one home of the durable-write rule that the
// builder, the node runtime and the CI registry share: a file is written
// to a temp file with a unique name in the same directory, fsynced,
// renamed into place, and the directory is fsynced, so a crash leaves the
// old content or the new, never half. It also owns the variants of that
// rule: [CreateNew] (hard-linked into place, never replaces), [WriteBlob]
// (a content-addressed blob whose sha256 and size are checked while it is
// written, before it can appear under its name), [Symlink] (a link
// replaced by a rename) and [PublishDir] (a finished tree made durable
// with one syncfs and renamed into place).
//
// Every step calls [crash.Point] ("STEP.create", "STEP.write",
// "STEP.fsync", "STEP.rename" or "STEP.link", "STEP.dirsync", ...; STEP
// set with [Step]) so crash tests can kill a writer at each of them.
//
// Users: builder (cache, source cache, image layout, keys, recipes), node
// store, node state, trust store, layout registry, origin's htpasswd.
//
// Temp names start with [TempPrefix]; a directory's owner removes
// leftovers of a crash with [IsTemp].
package atomicfile
