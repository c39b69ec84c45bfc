package p2p

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/anacrolix/torrent/metainfo"
)

// LayerStats is the state of one torrent.
type LayerStats struct {
	Digest   string `json:"digest"`
	InfoHash string `json:"infohash"`
	Size     int64  `json:"size"`
	// Done is the bytes of verified pieces.
	Done int64 `json:"done"`
	// FromPeers and FromOrigin are useful bytes received from BitTorrent
	// peers and from the origin (web seed and fallback reads).
	FromPeers  int64 `json:"fromPeers"`
	FromOrigin int64 `json:"fromOrigin"`
	// Uploaded is the piece bytes sent to peers.
	Uploaded int64 `json:"uploaded"`
	Peers    int   `json:"peers"`
	Seeding  bool  `json:"seeding"`
}

// Peer is one connected peer.
type Peer struct {
	Addr       string `json:"addr"`
	Client     string `json:"client,omitempty"`
	Digest     string `json:"digest"`
	Downloaded int64  `json:"downloaded"`
	Uploaded   int64  `json:"uploaded"`
}

// Stats is the client's state: what `node peers` shows.
type Stats struct {
	Listen string       `json:"listen"`
	Peers  []Peer       `json:"peers"`
	Banned []string     `json:"banned"`
	Layers []LayerStats `json:"layers"`
	// OriginBytes is every body byte read from origins.
	OriginBytes int64 `json:"originBytes"`
}

// Stats returns the client's peers, bans and per-layer progress, sorted.
func (c *Client) Stats() Stats {
	s := Stats{Listen: c.Addr().String(), Banned: bannedIPs(c.cl.BadPeerIPs()), OriginBytes: c.origin.bytes.Load()}
	c.mu.Lock()
	entries := make(map[metainfo.Hash]*entry, len(c.entries))
	for ih, e := range c.entries {
		entries[ih] = e
	}
	c.mu.Unlock()
	for ih, e := range entries {
		s.Layers = append(s.Layers, c.layerStats(ih, e))
		if e.t == nil {
			continue
		}
		for _, pc := range e.t.PeerConns() {
			st := pc.Stats()
			name, _ := pc.PeerClientName.Load().(string)
			s.Peers = append(s.Peers, Peer{Addr: pc.RemoteAddr.String(), Client: name, Digest: e.digest,
				Downloaded: st.BytesReadUsefulData.Int64(), Uploaded: st.BytesWrittenData.Int64()})
		}
	}
	slices.SortFunc(s.Layers, func(a, b LayerStats) int { return strings.Compare(a.Digest, b.Digest) })
	slices.SortFunc(s.Peers, func(a, b Peer) int {
		return strings.Compare(a.Digest+" "+a.Addr, b.Digest+" "+b.Addr)
	})
	return s
}

// Layer returns the stats of the torrent of digest, if the client holds it.
func (c *Client) Layer(digest string) (LayerStats, bool) {
	c.mu.Lock()
	var ih metainfo.Hash
	var found *entry
	for h, e := range c.entries {
		if e.digest == digest {
			ih, found = h, e
		}
	}
	c.mu.Unlock()
	if found == nil {
		return LayerStats{}, false
	}
	return c.layerStats(ih, found), true
}

func (c *Client) layerStats(ih metainfo.Hash, e *entry) LayerStats {
	c.mu.Lock()
	t, seeding, fallback := e.t, e.seeding, e.fallback
	c.mu.Unlock()
	ls := LayerStats{Digest: e.digest, InfoHash: ih.HexString(), Size: e.size, Seeding: seeding, FromOrigin: fallback}
	e.bf.mu.RLock()
	for i, done := range e.bf.complete {
		if done {
			ls.Done += min(e.bf.pieceLen, e.bf.length-int64(i)*e.bf.pieceLen)
		}
	}
	e.bf.mu.RUnlock()
	if t != nil {
		st := t.Stats()
		ls.FromPeers = st.PeerConns.BytesReadUsefulData.Int64()
		ls.FromOrigin += st.WebSeeds.BytesReadUsefulData.Int64()
		ls.Uploaded = st.BytesWrittenData.Int64()
		ls.Peers = st.ActivePeers
	}
	return ls
}

// Seeding reports whether the client serves the whole blob of ih.
func (c *Client) Seeding(ih [20]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[metainfo.Hash(ih)]
	return e != nil && e.seeding
}

// CanAsk reports whether the client has anyone to fetch from: bootstrap
// peers, trackers, or a peer connected now.
func (c *Client) CanAsk() bool {
	if len(c.cfg.Peers) > 0 || len(c.cfg.Trackers) > 0 {
		return true
	}
	for _, t := range c.cl.Torrents() {
		if len(t.PeerConns()) > 0 {
			return true
		}
	}
	return false
}

// bannedIPs lists each banned address once, IPv4 without its IPv6-mapped
// twin, sorted.
func bannedIPs(ips []string) []string {
	out := []string{}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			s = a.Unmap().String()
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
