// Package proxy is a small HTTP load balancer for a role whose upstreams
// follow the fleet: it reads HOST:PORT lines from a file (rendered from a
// template with `peers "NAME"`), sends each request to the next upstream
// in turn, skips one that refuses connections, and rereads the file on
// SIGHUP (the role's reload signal), so a re-render changes where traffic
// goes without a restart.
//
// It lives in the node binary that every image carries, so an lb role
// needs no extra package; see images/lb.toml.
package proxy
