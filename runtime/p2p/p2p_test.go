package p2p

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/un-distro/undistro/internal/btmeta"
)

// TestInfoMatchesAnacrolix: btmeta's hand-written encoding is what
// anacrolix decodes and re-encodes, byte for byte, with the same infohash.
func TestInfoMatchesAnacrolix(t *testing.T) {
	for _, n := range []int{1, 64 << 10, 3<<20 + 17} {
		b := newBlob(t, n, uint32(n))
		var mi metainfo.Info
		if err := bencode.Unmarshal(b.info.Bencode(), &mi); err != nil {
			t.Fatal(err)
		}
		again, err := bencode.Marshal(mi)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b.info.Bencode()) {
			t.Fatalf("anacrolix re-encodes the info of %d bytes differently:\n%q\n%q", n, again, b.info.Bencode())
		}
		if metainfo.HashBytes(again) != metainfo.Hash(b.info.Hash()) || mi.Name != b.digest[7:] || mi.Length != int64(n) {
			t.Fatalf("anacrolix sees %+v", mi)
		}
	}
}

func TestFetchFromPeer(t *testing.T) {
	b := newBlob(t, 3<<20+5, 1)
	seeder := newClient(t, "127.0.0.11", nil)
	seed(t, seeder, newStore(t), b)
	leecher := newClient(t, "127.0.0.12", func(c *Config) { c.Peers = []string{seeder.Addr().String()} })
	st := newStore(t)
	var last LayerStats
	if err := leecher.Fetch(t.Context(), b.layer(), st.commit(b.digest), func(s LayerStats) { last = s }); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	if !last.Seeding || last.Done != int64(len(b.data)) || last.FromPeers < int64(len(b.data)) || last.FromOrigin != 0 {
		t.Errorf("final stats %+v: want all bytes from peers, none from the origin, seeding", last)
	}
	// The leecher now seeds from the store's file: a third node gets it
	// from the leecher alone.
	third := newClient(t, "127.0.0.13", func(c *Config) { c.Peers = []string{leecher.Addr().String()} })
	seeder.Close()
	st3 := newStore(t)
	if err := third.Fetch(t.Context(), b.layer(), st3.commit(b.digest), nil); err != nil {
		t.Fatal(err)
	}
	st3.check(t, b)
}

// TestWebSeedOnly: no peer at all; the info dictionary is known, so
// anacrolix's BEP 19 web seed (the registry's blob URL) gives every piece.
func TestWebSeedOnly(t *testing.T) {
	b := newBlob(t, 1<<20+3, 2)
	origin := blobServer(t, b)
	leecher := newClient(t, "127.0.0.14", func(c *Config) { c.WebSeedDelay = 100 * time.Millisecond })
	st := newStore(t)
	l := b.layer()
	l.WebSeed = origin.URL + "/v2/r/blobs/" + b.digest
	l.Info = b.info.Bencode()
	var last LayerStats
	if err := leecher.Fetch(t.Context(), l, st.commit(b.digest), func(s LayerStats) { last = s }); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	if last.FromOrigin < int64(len(b.data)) || last.FromPeers != 0 {
		t.Errorf("stats %+v: want every byte from the web seed", last)
	}
	if leecher.Stats().OriginBytes < int64(len(b.data)) {
		t.Errorf("origin transport counted %d bytes", leecher.Stats().OriginBytes)
	}
}

// TestOriginFallback: no peer and no info dictionary: the blob is read
// from the origin, its torrent computed and checked against the signed
// infohash; a lying origin is refused and leaves nothing.
func TestOriginFallback(t *testing.T) {
	b := newBlob(t, 700<<10, 3)
	origin := blobServer(t, b)
	leecher := newClient(t, "127.0.0.15", func(c *Config) { c.WebSeedDelay = 100 * time.Millisecond })
	st := newStore(t)
	l := b.layer()
	l.WebSeed = origin.URL + "/blob"
	if err := leecher.Fetch(t.Context(), l, st.commit(b.digest), nil); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)

	other := newBlob(t, 700<<10, 4)
	l = other.layer()
	l.WebSeed = origin.URL + "/blob" // serves b, not other
	err := leecher.Fetch(t.Context(), l, st.commit(other.digest), nil)
	if !errors.Is(err, btmeta.ErrMismatch) {
		t.Fatalf("fetching from a lying origin: %v, want ErrMismatch", err)
	}
	if _, held := leecher.Layer(other.digest); held {
		t.Error("the client still holds the refused torrent")
	}
}

func blobServer(t *testing.T, b testBlob) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(b.data))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestAllowList: a peer outside the allow-list is refused at connect, so
// nothing comes from it and the fetch cannot complete.
func TestAllowList(t *testing.T) {
	b := newBlob(t, 256<<10, 5)
	seeder := newClient(t, "127.0.0.16", func(c *Config) {
		c.Allow, _ = ParseAllow("127.0.0.17/32") // not 127.0.0.18
	})
	seed(t, seeder, newStore(t), b)
	refused := newClient(t, "127.0.0.18", func(c *Config) { c.Peers = []string{seeder.Addr().String()} })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err := refused.Fetch(ctx, b.layer(), newStore(t).commit(b.digest), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fetch from a peer that refuses us: %v, want a timeout", err)
	}
	allowed := newClient(t, "127.0.0.17", func(c *Config) { c.Peers = []string{seeder.Addr().String()} })
	st := newStore(t)
	if err := allowed.Fetch(t.Context(), b.layer(), st.commit(b.digest), nil); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	if ps := seeder.Stats().Peers; slices.ContainsFunc(ps, func(p Peer) bool { return bytes.HasPrefix([]byte(p.Addr), []byte("127.0.0.18:")) }) {
		t.Errorf("seeder is connected to a refused address: %+v", ps)
	}
}

func TestParseAllow(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.0/8, 192.168.1.7", ""},
		{"fc00::/7", ""},
		{"", "names no prefix"},
		{"10.0.0.0/33", `entry "10.0.0.0/33"`},
		{"example.com", `entry "example.com"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseAllow(tc.in)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want))) {
				t.Fatalf("ParseAllow(%q) = %v, want %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false}, {"", 0, false}, {"512K", 512 << 10, false}, {"10M", 10 << 20, false},
		{"1G/s", 1 << 30, false}, {"100B", 100, false}, {"-1", 0, true}, {"1.5M", 0, true}, {"fast", 0, true},
	} {
		got, err := ParseRate(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRate(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// TestPrivateDHT: the DHT starts from the configured peers and nothing
// else (never the public bootstrap nodes).
func TestPrivateDHT(t *testing.T) {
	got, err := dhtStartingNodes([]string{"127.0.0.5:6881", "10.1.2.3:7000"})("udp4")()
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, a := range got {
		addrs = append(addrs, a.String())
	}
	if !slices.Equal(addrs, []string{"127.0.0.5:6881", "10.1.2.3:7000"}) {
		t.Errorf("DHT starting nodes %q", addrs)
	}
	none, _ := dhtStartingNodes(nil)("udp4")()
	if len(none) != 0 {
		t.Errorf("with no peers the DHT starts from %v", none)
	}
}

func TestBannedIPs(t *testing.T) {
	got := bannedIPs([]string{"::ffff:127.0.0.2", "127.0.0.2", "10.0.0.1", "fc00::1"})
	if want := []string{"10.0.0.1", "127.0.0.2", "fc00::1"}; !slices.Equal(got, want) {
		t.Errorf("bannedIPs = %q, want %q", got, want)
	}
}
