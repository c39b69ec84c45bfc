package p2p

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// DefaultListen is the default peer address of a node.
const DefaultListen = "0.0.0.0:6881"

// DefaultAllow is the default allow-list: loopback, RFC 1918, unique local
// (fc00::/7) and link-local addresses.
var DefaultAllow = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
}

// Defaults of Config.
const (
	DefaultWebSeedDelay      = 2 * time.Second
	DefaultMaxOriginRequests = 4
)

// Config configures a Client. The zero value of each field means its
// documented default.
type Config struct {
	// Listen is the TCP and UDP (DHT) address, "host:port". Default
	// DefaultListen; port 0 picks a free port.
	Listen string
	// Peers are bootstrap peers, "host:port": dialled for every torrent and
	// the only starting nodes of the DHT.
	Peers []string
	// Trackers are HTTP announce URLs added to every torrent.
	Trackers []string
	// Allow is the allow-list of peer addresses. Default DefaultAllow.
	Allow []netip.Prefix
	// UploadRate and DownloadRate cap peer traffic in bytes per second
	// (the download cap covers web seeds too). Zero: no cap.
	UploadRate, DownloadRate int64
	// WebSeedDelay is how long a download may get nothing from peers
	// before the web seed is used. Default DefaultWebSeedDelay.
	WebSeedDelay time.Duration
	// MaxOriginRequests caps concurrent HTTP requests to origins (web
	// seeds and the no-info fallback). Default DefaultMaxOriginRequests.
	MaxOriginRequests int
	// OriginTransport carries origin requests for hosts Fetch was given no
	// transport for. Default http.DefaultTransport.
	OriginTransport http.RoundTripper
	// MaxPeersPerTorrent caps the connections per torrent. An origin sets
	// it low so that a few nodes take each piece from it and the rest of
	// the fleet from them. Default 30.
	MaxPeersPerTorrent int
	// PartialDir holds downloads in progress; it must be on the same
	// filesystem as the store the commit callback moves blobs into.
	// Required.
	PartialDir string
	// InfoDir caches info dictionaries of seeded blobs (named by infohash,
	// checked against it on load) so a restart does not rehash every blob.
	// Empty: no cache.
	InfoDir string
}

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return o, fmt.Errorf("p2p listen address %q: %w (want host:port, e.g. %s)", o.Listen, err, DefaultListen)
	}
	for _, p := range o.Peers {
		if _, err := netip.ParseAddrPort(p); err != nil {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return o, fmt.Errorf("peer %q: %w (want host:port)", p, err)
			}
		}
	}
	if o.Allow == nil {
		o.Allow = DefaultAllow
	}
	if o.UploadRate < 0 || o.DownloadRate < 0 {
		return o, fmt.Errorf("negative rate limit (up %d, down %d bytes/s)", o.UploadRate, o.DownloadRate)
	}
	if o.WebSeedDelay == 0 {
		o.WebSeedDelay = DefaultWebSeedDelay
	}
	if o.WebSeedDelay < 0 {
		return o, fmt.Errorf("negative web seed delay %s", o.WebSeedDelay)
	}
	if o.MaxOriginRequests == 0 {
		o.MaxOriginRequests = DefaultMaxOriginRequests
	}
	if o.MaxOriginRequests < 0 {
		return o, fmt.Errorf("negative origin request cap %d", o.MaxOriginRequests)
	}
	if o.MaxPeersPerTorrent == 0 {
		o.MaxPeersPerTorrent = 30
	}
	if o.MaxPeersPerTorrent < 0 {
		return o, fmt.Errorf("negative peers per torrent %d", o.MaxPeersPerTorrent)
	}
	if o.OriginTransport == nil {
		o.OriginTransport = http.DefaultTransport
	}
	if o.PartialDir == "" {
		return o, errors.New("p2p: no directory for partial downloads")
	}
	return o, nil
}

// ParseAllow parses an allow-list flag: comma-separated CIDR prefixes or
// single addresses.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("allow-list entry %q: want a CIDR prefix like 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("allow-list %q names no prefix", s)
	}
	return out, nil
}

// ParseRate parses a rate flag: bytes per second with an optional K, M or G
// suffix (powers of 1024) and an optional "B" or "/s"; "0" or "" is no cap.
func ParseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/s"), "B")
	if t == "" {
		return 0, nil
	}
	mult := int64(1)
	switch t[len(t)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	var n int64
	if _, err := fmt.Sscanf(t, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != t || n > (1<<62)/mult {
		return 0, fmt.Errorf("rate %q: want bytes per second like 10M, 512K or 0 for no cap", s)
	}
	return n * mult, nil
}
