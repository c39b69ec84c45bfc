// Package tracker is the fleet's HTTP BitTorrent tracker (BEP 3, compact
// peers), served by the origin (`undistro serve --p2p`) at /announce: the
// HTTP side is anacrolix/torrent's tracker server (tracker/http/server and
// tracker/server); this package is its in-memory peer store, which
// forgets peers that stop announcing and lists only peers inside the
// fleet's address ranges, and answers only them.
//
// Announcing is an unauthenticated write of an address into the swarm, so
// it is bounded: only allow-listed sources, a cap on peers per torrent and
// on torrents, no upstream trackers.
package tracker
