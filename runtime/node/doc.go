// Package node is the runtime on each node: it pulls images into the store
// (package store), verifies them with the node's policy before any switch,
// makes one current, and supervises its services (package supervise).
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
