// Package node is the runtime on each node: it pulls images into the store
// (package store) once it has admitted them, makes one current, and
// supervises its services (package supervise).
//
// Admission runs on the manifest and config alone, before any layer is
// fetched: the image must be signed, with an SPDX SBOM, by a key the node
// trusts (package trust, ROOT/keys, read afresh at every pull and switch;
// package policy verifies), for the repository it is pulled from; its role
// must be the one asked for (Admit.Role, else the reference's, else the
// current image's); and a switch refuses an image whose config was created
// before the current one's (the builder stamps the commit time there; the
// signature covers it through the manifest digest) unless
// Admit.AllowDowngrade. Admit.InsecureAllowUnsigned skips the signature
// check; ROOT/node.json records it for that image and Status shows it.
// Rollback is never checked: it returns to an image admitted before.
//
// A switch diffs the old and new images' services: added ones start,
// removed ones stop, and only those whose definition, config files or
// package layer changed restart. A health gate then waits for every
// service to be ready; if they are not within the timeout the node rolls
// back to the previous image by itself and records why in ROOT/node.json.
//
// Run is the daemon: it supervises the current image's services and serves
// the operations as JSON over HTTP on a unix socket; Client speaks to it,
// and Connect picks the daemon when it answers and the store directly when
// it does not. Run waits on process exits, the socket and timers only.
package node
