package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2"
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/time/rate"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/logctx"
)

// Client is a node's BitTorrent client. Its methods are safe for
// concurrent use.
type Client struct {
	cfg    Config
	cl     *torrent.Client
	origin *originTransport
	http   *http.Client
	log    *slog.Logger
	down   *rate.Limiter

	mu      sync.Mutex
	entries map[metainfo.Hash]*entry
}

// entry is one torrent the client holds: a download or a seeded blob.
type entry struct {
	digest   string
	size     int64
	bf       *blobFile
	t        *torrent.Torrent
	seeding  bool
	fallback int64 // bytes read from the origin outside the web seed, under Client.mu
}

// New starts a client listening on cfg.Listen. Close stops it.
func New(ctx context.Context, cfg Config) (*Client, error) {
	o, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{o.PartialDir, o.InfoDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	c := &Client{cfg: o, log: logctx.From(ctx), entries: map[metainfo.Hash]*entry{}}
	c.origin = newOriginTransport(o.OriginTransport, o.MaxOriginRequests)
	c.http = &http.Client{Transport: c.origin}

	host, port, _ := net.SplitHostPort(o.Listen)
	tc := torrent.NewDefaultClientConfig()
	tc.SetListenAddr(net.JoinHostPort(host, port))
	ip, ipErr := netip.ParseAddr(host)
	switch {
	case host == "" || ipErr == nil && ip.IsUnspecified() && ip.Is6():
		tc.ListenHost = func(string) string { return "" }
	case ipErr == nil && ip.Is4():
		tc.DisableIPv6 = true
	case ipErr == nil:
		tc.DisableIPv4 = true
	}
	tc.Seed = true
	tc.NoUpload = false
	tc.DisableUTP = true              // TCP only: less memory, and what every client speaks
	tc.DisableWebtorrent = true       // no WebRTC
	tc.NoDefaultPortForwarding = true // no UPnP/NAT-PMP: nothing announced outside the fleet
	tc.DisableTrackers = false
	tc.DisablePEX = false
	tc.IPBlocklist = allowList(o.Allow)
	tc.EstablishedConnsPerTorrent = o.MaxPeersPerTorrent
	tc.HalfOpenConnsPerTorrent = 10
	tc.TotalHalfOpenConns = 50
	tc.TorrentPeersHighWater = 200
	tc.MaxUnverifiedBytes = 16 << 20
	tc.HandshakesTimeout = 4 * time.Second
	tc.MinDialTimeout = time.Second
	tc.NominalDialTimeout = 5 * time.Second
	tc.DialRateLimiter = rate.NewLimiter(50, 50)
	tc.WebTransport = c.origin
	tc.HTTPUserAgent = "undistro"
	tc.DefaultStorage = blobStorage{c}
	tc.Logger = alog.Default.WithFilterLevel(alog.Disabled)
	tc.Slogger = slog.New(quietHandler{c.log.Handler()})
	if o.UploadRate > 0 {
		tc.UploadRateLimiter = rate.NewLimiter(rate.Limit(o.UploadRate), int(max(o.UploadRate, 256<<10)))
	}
	if o.DownloadRate > 0 {
		c.down = rate.NewLimiter(rate.Limit(o.DownloadRate), int(max(o.DownloadRate, 256<<10)))
		tc.DownloadRateLimiter = c.down
	}
	// A private DHT: it starts only from the configured peers, never from
	// the public bootstrap nodes, and the allow-list bounds whom it talks
	// to.
	tc.DhtStartingNodes = dhtStartingNodes(o.Peers)
	tc.PeriodicallyAnnounceTorrentsToDht = true
	// Fleet addresses are private: BEP 42 node-ID security would refuse
	// them.
	tc.ConfigureAnacrolixDhtServer = func(sc *dht.ServerConfig) { sc.NoSecurity = true }
	// Dial out from the listen address, so peers see the address they
	// would ban or allow, not the host's default source address.
	if ipErr == nil && !ip.IsUnspecified() {
		tc.DialForPeerConns = false
		// Trackers list the address an announce comes from.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}, Timeout: 10 * time.Second}
		tc.TrackerDialContext = d.DialContext
	}
	cl, err := torrent.NewClient(tc)
	if err != nil {
		return nil, fmt.Errorf("starting the p2p client on %s: %w", o.Listen, err)
	}
	if ipErr == nil && !ip.IsUnspecified() {
		network := "tcp4"
		if ip.Is6() {
			network = "tcp6"
		}
		cl.AddDialer(torrent.NetworkDialer{Network: network, Dialer: &net.Dialer{
			LocalAddr: &net.TCPAddr{IP: ip.AsSlice()},
			Timeout:   o.WebSeedDelay * 5,
		}})
	}
	c.cl = cl
	return c, nil
}

// Addr is the TCP address the client accepts peers on.
func (c *Client) Addr() netip.AddrPort {
	for _, l := range c.cl.ListenAddrs() {
		if a, ok := l.(*net.TCPAddr); ok {
			return a.AddrPort()
		}
	}
	return netip.AddrPort{}
}

// Close stops the client and closes every blob file.
func (c *Client) Close() error {
	errs := c.cl.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if err := e.bf.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Client) fileOf(ih metainfo.Hash) *blobFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[ih]; e != nil {
		return e.bf
	}
	return nil
}

// peerInfos resolves the bootstrap peers.
func (c *Client) peerInfos() []torrent.PeerInfo {
	var out []torrent.PeerInfo
	for _, p := range c.cfg.Peers {
		a, err := net.ResolveTCPAddr("tcp", p)
		if err != nil {
			c.log.Debug("p2p: resolving peer", "peer", p, "err", err)
			continue
		}
		out = append(out, torrent.PeerInfo{Addr: a, Trusted: false})
	}
	return out
}

func (c *Client) join(t *torrent.Torrent) {
	if len(c.cfg.Trackers) > 0 {
		t.AddTrackers([][]string{slices.Clone(c.cfg.Trackers)})
	}
	if ps := c.peerInfos(); len(ps) > 0 {
		t.AddPeers(ps)
	}
}

// Blob names a stored, verified blob to seed.
type Blob struct {
	// Digest is "sha256:<hex>"; Size its size in bytes.
	Digest string
	Size   int64
	// InfoHash is the infohash its verified manifest names.
	InfoHash btmeta.InfoHash
	// Path is the store's file of the blob; or, when empty, Open opens it
	// (an origin's storage driver).
	Path string
	Open func() (io.ReadSeekCloser, error)
}

func (b Blob) open() (io.ReadSeekCloser, error) {
	if b.Path == "" && b.Open != nil {
		return b.Open()
	}
	return os.Open(b.Path)
}

// Seed serves b to the fleet, reading from b.Path. Its info dictionary
// comes from InfoDir's cache or is computed from the file (which checks
// it against its digest); either way it must hash to b.InfoHash, or the
// blob is not seeded. Seeding a blob already held is a no-op.
func (c *Client) Seed(ctx context.Context, b Blob) error {
	ih := metainfo.Hash(b.InfoHash)
	c.mu.Lock()
	_, held := c.entries[ih]
	c.mu.Unlock()
	if held || b.Size == 0 {
		return nil
	}
	info, err := c.infoOf(b)
	if err != nil {
		return fmt.Errorf("seeding %s: %w", b.Digest, err)
	}
	r, err := b.open()
	if err != nil {
		return fmt.Errorf("seeding %s: %w", b.Digest, err)
	}
	bf := &blobFile{path: b.Path, readOnly: true, pieceLen: info.PieceLength, length: b.Size,
		complete: make([]bool, info.NumPieces()), nDone: info.NumPieces()}
	bf.setSource(r)
	for i := range bf.complete {
		bf.complete[i] = true
	}
	e := &entry{digest: b.Digest, size: b.Size, bf: bf, seeding: true}
	c.mu.Lock()
	if _, held := c.entries[ih]; held {
		c.mu.Unlock()
		bf.close()
		return nil
	}
	c.entries[ih] = e
	c.mu.Unlock()
	t, _ := c.cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, Storage: blobStorage{c}, InfoBytes: info.Bencode()})
	c.mu.Lock()
	e.t = t
	c.mu.Unlock()
	select {
	case <-t.GotInfo():
	case <-ctx.Done():
		c.drop(ih)
		return ctx.Err()
	}
	c.join(t)
	return nil
}

// infoOf returns b's info dictionary, from the cache or the file.
func (c *Client) infoOf(b Blob) (*btmeta.Info, error) {
	cache := ""
	if c.cfg.InfoDir != "" {
		cache = filepath.Join(c.cfg.InfoDir, b.InfoHash.String())
		if raw, err := os.ReadFile(cache); err == nil {
			if in, err := btmeta.Decode(raw); err == nil && in.Hash() == b.InfoHash && in.Check(b.Digest, b.Size) == nil {
				return in, nil
			}
		}
	}
	f, err := b.open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in, err := btmeta.Compute(bufio.NewReaderSize(f, 1<<20), b.Digest, b.Size)
	if err != nil {
		return nil, err
	}
	if in.Hash() != b.InfoHash {
		return nil, fmt.Errorf("its torrent has infohash %s, the manifest says %s: %w", in.Hash(), b.InfoHash, btmeta.ErrMismatch)
	}
	if cache != "" {
		if err := atomicfile.WriteFile(cache, in.Bencode(), 0o600); err != nil {
			c.log.Debug("p2p: caching info", "digest", b.Digest, "err", err)
		}
	}
	return in, nil
}

// drop removes a torrent and closes its file.
func (c *Client) drop(ih metainfo.Hash) {
	c.mu.Lock()
	e := c.entries[ih]
	delete(c.entries, ih)
	c.mu.Unlock()
	if e == nil {
		return
	}
	if e.t != nil {
		e.t.Drop()
	}
	e.bf.close()
}

// Uploaded is the piece bytes sent to peers so far, all torrents.
func (c *Client) Uploaded() int64 {
	st := c.cl.Stats()
	return st.BytesWrittenData.Int64()
}

// Unseed stops serving the blob with that infohash (the store is about to
// delete it).
func (c *Client) Unseed(ih btmeta.InfoHash) { c.drop(metainfo.Hash(ih)) }

// dhtStartingNodes makes the DHT start from the bootstrap peers only (the
// library's default is the public bootstrap nodes).
func dhtStartingNodes(peers []string) func(network string) dht.StartingNodesGetter {
	return func(network string) dht.StartingNodesGetter {
		return func() ([]dht.Addr, error) {
			var out []dht.Addr
			for _, p := range peers {
				if a, err := net.ResolveUDPAddr(network, p); err == nil {
					out = append(out, dht.NewAddr(a))
				}
			}
			return out, nil
		}
	}
}
