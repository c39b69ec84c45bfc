package tracker

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	bttracker "github.com/anacrolix/torrent/tracker"
	trackerServer "github.com/anacrolix/torrent/tracker/server"
)

func TestPeerStore(t *testing.T) {
	tr := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	s := store{tr}
	ctx := context.Background()
	ih := trackerServer.InfoHash{1}
	a := netip.MustParseAddrPort("10.0.0.1:6881")
	b := netip.MustParseAddrPort("10.0.0.2:6881")
	outsider := netip.MustParseAddrPort("8.8.8.8:6881")
	for _, p := range []netip.AddrPort{a, b, outsider} {
		if err := s.TrackAnnounce(ctx, bttracker.AnnounceRequest{InfoHash: ih, Left: 1}, p); err != nil {
			t.Fatal(err)
		}
	}
	res := s.GetPeers(ctx, ih, trackerServer.GetPeersOpts{}, a)
	if len(res.Peers) != 1 || res.Peers[0].AnnounceAddr != b {
		t.Errorf("peers for a = %v, want only b (not a itself, not the outsider)", res.Peers)
	}
	// A stopped peer is dropped; a silent one expires.
	if err := s.TrackAnnounce(ctx, bttracker.AnnounceRequest{InfoHash: ih, Event: bttracker.Stopped}, b); err != nil {
		t.Fatal(err)
	}
	if res := s.GetPeers(ctx, ih, trackerServer.GetPeersOpts{}, outsider); len(res.Peers) != 1 {
		t.Errorf("after b stopped: %v", res.Peers)
	}
	now = now.Add(expiry + time.Second)
	if res := s.GetPeers(ctx, ih, trackerServer.GetPeersOpts{}, outsider); len(res.Peers) != 0 {
		t.Errorf("after expiry: %v", res.Peers)
	}
	// The origin lists itself for what it seeds.
	self := netip.MustParseAddrPort("10.0.0.9:6881")
	tr.Seed(self, func(h [20]byte) bool { return h == ih })
	if res := s.GetPeers(ctx, ih, trackerServer.GetPeersOpts{}, a); len(res.Peers) != 1 || res.Peers[0].AnnounceAddr != self {
		t.Errorf("with the origin seeding: %v", res.Peers)
	}
	if res := s.GetPeers(ctx, trackerServer.InfoHash{2}, trackerServer.GetPeersOpts{}, a); len(res.Peers) != 0 {
		t.Errorf("the origin listed for a torrent it does not seed: %v", res.Peers)
	}
}

// FuzzAnnounce: any query an allowed address sends gets an answer, never a
// panic, and a success lists only fleet addresses.
func FuzzAnnounce(f *testing.F) {
	f.Add("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&event=started&left=10")
	f.Add("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=0&event=stopped")
	f.Add("info_hash=%00&peer_id=&port=-1&event=bogus&left=x")
	f.Add("")
	tr := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "/announce", nil)
		r.URL.RawQuery = q
		r.RemoteAddr = "10.1.2.3:5555"
		w := httptest.NewRecorder()
		tr.ServeHTTP(w, r)
		if w.Code != http.StatusOK && (w.Code < 400 || w.Code > 599) {
			t.Fatalf("status %d for %q", w.Code, q)
		}
		if w.Code == http.StatusOK && bytes.Contains(w.Body.Bytes(), []byte("failure reason")) {
			t.Fatalf("success carries a failure reason: %q", w.Body.Bytes())
		}
	})
}
