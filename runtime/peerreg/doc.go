// Package peerreg is the read-only OCI distribution endpoint node daemons
// serve to each other, and the client side that reads it.
//
// Manifests, configs, cosign signatures and attestations are small and
// content-addressed (or, for the cosign tags, signed), so where a node gets
// them from does not matter: runtime/policy verifies them exactly as it
// verifies what the registry serves. A node daemon therefore serves, from
// its own store, GET and HEAD of
//
//	/v2/                                    (API version check)
//	/v2/NAME/manifests/sha256:HEX           (an image manifest by digest)
//	/v2/NAME/manifests/sha256-HEX.sig|.att  (cosign's attachment tags)
//	/v2/NAME/blobs/sha256:HEX               (configs, layers, attachment blobs)
//
// of the images it admitted with a verified signature, and nothing else:
// no tags, no catalog, no writes. NAME is checked against the OCI grammar
// and otherwise ignored (a digest names the same bytes in every
// repository). It answers only peers whose address is inside the allow-list
// (the BitTorrent client's --p2p-allow, default loopback, RFC 1918,
// fc00::/7, link-local); others are closed at accept. There is no registry engine here: Handler is a small handler over
// a Content (the node's store), and ParsePath, which reads every untrusted
// path, is fuzzed.
//
// Where it listens: on the IP of the node's BitTorrent address, at the BT
// port + 1 (EndpointFor; 6882 for the default 0.0.0.0:6881). A second port
// rather than sniffing the BT port's first bytes, because the BitTorrent
// client owns its TCP listener (and its uTP socket shares the port number),
// and an MSE-encrypted BT handshake has no fixed prefix to tell it from
// HTTP. The fixed rule lets any peer known by its BT address (--peers, the
// node config, the BT client's peer list) be asked over HTTP without more
// discovery.
//
// Transport is the client side: an http.RoundTripper that sends a
// go-containerregistry request meant for the registry to the peers instead,
// one after another until one has it. The reference, and so the repository
// a signature must name, stays the registry's; only the bytes come from
// peers. Tags other than cosign's attachment tags are not served: a tag
// reference still needs the registry.
package peerreg
