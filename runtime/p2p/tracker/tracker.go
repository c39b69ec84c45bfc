package tracker

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/generics"
	bttracker "github.com/anacrolix/torrent/tracker"
	httpTrackerServer "github.com/anacrolix/torrent/tracker/http/server"
	trackerServer "github.com/anacrolix/torrent/tracker/server"
	"github.com/anacrolix/torrent/tracker/udp"
)

// Limits of the peer store.
const (
	// Interval is the announce interval peers are told (seconds).
	Interval = 60
	// expiry is how long a peer stays listed without announcing again.
	expiry         = 3 * Interval * time.Second
	maxPeers       = 1000
	maxTorrents    = 10000
	maxReturnPeers = 200
)

// Tracker is an http.Handler for /announce.
type Tracker struct {
	allow []netip.Prefix
	h     http.Handler

	mu       sync.Mutex
	torrents map[trackerServer.InfoHash]map[netip.AddrPort]peer
	now      func() time.Time
	self     netip.AddrPort
	seeds    func(ih [20]byte) bool
}

// Seed lists self, the BitTorrent address of the process serving the
// tracker (the origin), for every torrent seeds reports true for. An
// unspecified IP in self is replaced by the local address each announce
// came in on, so peers get an address they can reach.
func (t *Tracker) Seed(self netip.AddrPort, seeds func(ih [20]byte) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.self, t.seeds = self, seeds
}

type peer struct {
	seen time.Time
	left int64
}

// New returns a tracker that answers and lists only addresses in allow.
func New(allow []netip.Prefix) *Tracker {
	t := &Tracker{allow: allow, torrents: map[trackerServer.InfoHash]map[netip.AddrPort]peer{}, now: time.Now}
	t.h = httpTrackerServer.Handler{Announce: &trackerServer.AnnounceHandler{AnnounceTracker: store{t}}}
	return t
}

func (t *Tracker) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ServeHTTP answers an announce from an allowed address.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	a, perr := netip.ParseAddr(host)
	if err != nil || perr != nil || !t.allowed(a) {
		http.Error(w, "announcing from outside the fleet's address ranges", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "announce with GET", http.StatusMethodNotAllowed)
		return
	}
	// anacrolix's handler always writes a "failure reason" key, empty on
	// success; BEP 3 says its presence means failure, and clients such as
	// aria2 take it so. Drop it when empty.
	rec := &bufferedResponse{header: w.Header(), code: http.StatusOK}
	t.h.ServeHTTP(rec, r)
	// Keys are sorted and only "complete" (an integer) precedes it, so
	// the first match is the key itself, never peer bytes.
	body := bytes.Replace(rec.body.Bytes(), []byte("14:failure reason0:"), nil, 1)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.code)
	_, _ = w.Write(body)
}

// bufferedResponse holds a small response to rewrite it.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// Peers returns how many peers are listed for each torrent (hex infohash).
func (t *Tracker) Peers() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for ih, ps := range t.torrents {
		out[ih.HexString()] = len(ps)
	}
	return out
}

// store is the AnnounceTracker the anacrolix handler calls.
type store struct{ t *Tracker }

var _ trackerServer.AnnounceTracker = store{}

func (s store) TrackAnnounce(ctx context.Context, req udp.AnnounceRequest, addr trackerServer.AnnounceAddr) error {
	t := s.t
	if !t.allowed(addr.Addr()) || addr.Port() == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	ps := t.torrents[req.InfoHash]
	if req.Event == bttracker.Stopped {
		delete(ps, addr)
		return nil
	}
	if ps == nil {
		if len(t.torrents) >= maxTorrents {
			t.expire(now)
			if len(t.torrents) >= maxTorrents {
				return nil
			}
		}
		ps = map[netip.AddrPort]peer{}
		t.torrents[req.InfoHash] = ps
	}
	if _, known := ps[addr]; !known && len(ps) >= maxPeers {
		return nil
	}
	ps[addr] = peer{seen: now, left: req.Left}
	return nil
}

// expire drops peers not seen for expiry, and empty torrents.
func (t *Tracker) expire(now time.Time) {
	for ih, ps := range t.torrents {
		for a, p := range ps {
			if now.Sub(p.seen) > expiry {
				delete(ps, a)
			}
		}
		if len(ps) == 0 {
			delete(t.torrents, ih)
		}
	}
}

func (s store) Scrape(ctx context.Context, ihs []trackerServer.InfoHash) ([]udp.ScrapeInfohashResult, error) {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]udp.ScrapeInfohashResult, len(ihs))
	for i, ih := range ihs {
		for _, p := range t.torrents[ih] {
			if p.left == 0 {
				out[i].Seeders++
			} else {
				out[i].Leechers++
			}
		}
	}
	return out, nil
}

func (s store) GetPeers(ctx context.Context, ih trackerServer.InfoHash, opts trackerServer.GetPeersOpts, remote trackerServer.AnnounceAddr) trackerServer.ServerAnnounceResult {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var res trackerServer.ServerAnnounceResult
	var seeders, leechers int32
	max := opts.MaxCount.UnwrapOr(maxReturnPeers)
	for a, p := range t.torrents[ih] {
		if now.Sub(p.seen) > expiry {
			delete(t.torrents[ih], a)
			continue
		}
		if p.left == 0 {
			seeders++
		} else {
			leechers++
		}
		if a == remote || uint(len(res.Peers)) >= max {
			continue
		}
		res.Peers = append(res.Peers, trackerServer.PeerInfo{AnnounceAddr: a})
	}
	if t.seeds != nil && t.seeds(ih) {
		self := t.self
		if !self.Addr().IsValid() || self.Addr().IsUnspecified() {
			if la, ok := ctx.Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
				self = netip.AddrPortFrom(la.AddrPort().Addr().Unmap(), self.Port())
			}
		}
		if self.Addr().IsValid() && !self.Addr().IsUnspecified() && self != remote {
			res.Peers = append(res.Peers, trackerServer.PeerInfo{AnnounceAddr: self})
			seeders++
		}
	}
	res.Interval = generics.Some[int32](Interval)
	res.Seeders = generics.Some(seeders)
	res.Leechers = generics.Some(leechers)
	return res
}
