// Package store is a node's image store: content-addressed blobs, layers
// unpacked once and shared read-only between images, image roots assembled
// from layers by hardlinks, and the current/previous pointers a node runs
// from.
//
// Layout under the root (the node passes it; see node.RootFromEnv). The root
// is made 0700 so no other user can read the store or open its lock:
//
//	blobs/sha256/HEX    manifests, configs and compressed layers, verified
//	layers/HEX/         one unpacked layer per diffID, files read-only
//	layers/HEX.json     what unpacking found (whiteouts, privileged paths)
//	images/HEX.json     one record per pulled image (manifest digest HEX)
//	roots/HEX/          an image's root filesystem, hardlinks into layers/
//	state.json          {"current": DIGEST, "previous": DIGEST}
//	current, previous   symlinks to roots/HEX, for people; state.json rules
//	journal.json        the operation in flight, if any
//	lock                flock(2) serialising writers across processes (0600);
//	                    it holds "PID COMMAND" of the holder
//
// Everything is written to a ".tmp-" name in its final directory, fsynced
// (files) or syncfs'd (trees), then renamed, so a crash leaves the old or the
// new, never half. Open finishes or undoes what the journal says was in
// flight and removes every ".tmp-" leftover. Each write step calls
// crash.Point, so tests kill the process at every step and check recovery.
//
// Writers (Add, Pull, Rootfs, Switch, Rollback, GC) hold the lock for the
// whole operation; readers (Image, Current, Previous, List) never block. A
// writer waiting for the lock logs who holds it (from /proc/locks) and gives
// up when its context ends (SIGTERM in the CLI), naming the holder.
//
// Resolve reads an image's manifest and config without writing anything;
// Add then fetches and unpacks its layers. A node checks the Source Resolve
// returns (signature, role, age) in between, so a refused image never
// reaches the store. Registry pulls use go-containerregistry's default
// keychain (docker's config.json in $DOCKER_CONFIG or ~/.docker).
//
// A switch (and a rollback) derives the new root from the current one in
// place instead of assembling it: only the paths named by the layers the
// two images do not share are looked at, and an entry whose content, mode
// and owner are already right is left alone, so two images that differ in
// one config file cost one link whatever the number of files in their
// packages (see derive and BenchmarkDeltaSwitch). The current root is
// renamed to a temporary name, changed, its changed directories fsynced,
// then renamed to the new image's root: a crash leaves a temporary tree
// that Open sweeps, and Open assembles the current image's root again when
// it is missing. The image switched from loses its root; a rollback
// derives it back the same way. Only root derives (a tree's read-only
// directories would stop anyone else); others assemble in full.
//
// The files of a root are hardlinks to the layer files, which are read-only
// (a-w) and shared by every image using the layer. Root ignores permission
// bits, so whoever runs services in a root must keep it from writing
// through them: mount the root read-only (a read-only bind mount) or run
// services as unprivileged users. Directories are per root, not shared.
package store
