// Package p2p is a node's BitTorrent engine: one anacrolix/torrent client
// per daemon that fetches layer blobs from the fleet and seeds the blobs of
// verified images straight from the store's files.
//
// What it joins: only the infohashes a caller names — the node names those
// of the layer descriptors of a manifest it has verified (internal/btmeta,
// annotation dev.undistro.btih). The info dictionary a peer sends is checked
// against the blob's digest and size (btmeta.Info.Check), every piece against
// its SHA-1, and the finished blob against its sha256 before the store takes
// it (Fetch's commit callback).
//
// Where bytes come from: peers first (bootstrap peers, trackers, PEX and a
// private DHT that starts only from the bootstrap peers); the registry's
// blob URL is a BEP 19 web seed added only when no peer has given any bytes
// for WebSeedDelay, and every origin request goes through one transport per
// client that caps concurrent requests (MaxOriginRequests). When no peer can
// even give the info dictionary within the delay, the blob is read straight
// from the web-seed URL, its torrent computed locally and checked against the
// signed infohash, then seeded.
//
// Who it talks to: only addresses inside Allow (default loopback, RFC 1918,
// fc00::/7, link-local); others are refused at connect, in both directions,
// and by the DHT. A peer that contributed a piece failing its hash is banned
// by IP (anacrolix's smart ban) and listed in Stats.
//
// Storage: a download lives in PartialDir/<digest hex> (the store's temp
// area, same filesystem) and resumes from the pieces already there; after
// commit the torrent is served from the store's own file, read-only.
package p2p
