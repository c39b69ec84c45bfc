package p2p

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/un-distro/undistro/runtime/p2p/tracker"
)

// TestTrackerDiscovery: two clients that know only the tracker find each
// other through it.
func TestTrackerDiscovery(t *testing.T) {
	tr := tracker.New(DefaultAllow)
	srv := httptest.NewServer(tr)
	t.Cleanup(srv.Close)
	announce := srv.URL + "/announce"
	b := newBlob(t, 300<<10, 8)
	seeder := newClient(t, "127.0.0.51", func(c *Config) { c.Trackers = []string{announce} })
	seed(t, seeder, newStore(t), b)
	leecher := newClient(t, "127.0.0.52", func(c *Config) { c.Trackers = []string{announce} })
	st := newStore(t)
	if err := leecher.Fetch(t.Context(), b.layer(), st.commit(b.digest), nil); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	if n := tr.Peers()[b.info.Hash().String()]; n < 2 {
		t.Errorf("tracker lists %d peers for the blob, want both", n)
	}
}

// TestTrackerAnswer: a successful announce carries no "failure reason"
// key (BEP 3: its presence means failure; aria2 reads it so).
func TestTrackerAnswer(t *testing.T) {
	srv := httptest.NewServer(tracker.New(DefaultAllow))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&event=started&compact=1&left=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte("failure reason")) || !bytes.Contains(b, []byte("8:intervali60e")) {
		t.Errorf("announce answer %s %q", resp.Status, b)
	}
}

func TestTrackerRefusesOutsiders(t *testing.T) {
	tr := tracker.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	srv := httptest.NewServer(tr)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("announce from loopback to a 10/8 tracker: %s, want 403", resp.Status)
	}
}
