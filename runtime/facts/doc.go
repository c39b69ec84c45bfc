// Package facts is what a node knows about itself: its config file
// (ROOT/node.toml: name, ordered tags, per-tag values) and the facts it
// gathers from the kernel (hostname, addresses, CPU count, memory, kernel
// release). Together they are the Data that runtime/render renders a role's
// template files with. AddressWatcher reports address changes as the
// kernel makes them (rtnetlink), so the daemon re-renders without polling.
//
// Tags are ordered: the node's own name first, then its role tags; a value
// set under an earlier tag overrides the same key under a later one, so
// [values.web-1] (the node) beats [values.web] (the role) beats
// [values.all].
package facts
