package p2p

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

// seedLies makes c serve b's torrent from a file whose every piece is
// corrupt while claiming to have them all: a real anacrolix peer that
// lies.
func seedLies(t *testing.T, c *Client, b testBlob) {
	t.Helper()
	bad := make([]byte, len(b.data))
	for i := range bad {
		bad[i] = b.data[i] ^ 0x5a
	}
	p := filepath.Join(t.TempDir(), "corrupt")
	if err := os.WriteFile(p, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	n := b.info.NumPieces()
	bf := &blobFile{f: f, path: p, readOnly: true, pieceLen: b.info.PieceLength, length: int64(len(b.data)),
		complete: make([]bool, n), nDone: n}
	for i := range bf.complete {
		bf.complete[i] = true
	}
	ih := metainfo.Hash(b.info.Hash())
	c.mu.Lock()
	c.entries[ih] = &entry{digest: b.digest, size: int64(len(b.data)), bf: bf, seeding: true}
	c.mu.Unlock()
	tt, _ := c.cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, Storage: blobStorage{c}, InfoBytes: b.info.Bencode()})
	<-tt.GotInfo()
}

// TestLyingPeerBanned: one peer serves corrupt pieces; the fetch completes
// from the honest one, and the liar is banned and listed.
func TestLyingPeerBanned(t *testing.T) {
	b := newBlob(t, 2<<20, 6)
	honest := newClient(t, "127.0.0.21", func(c *Config) { c.UploadRate = 1 << 20 })
	seed(t, honest, newStore(t), b)
	liar := newClient(t, "127.0.0.22", nil)
	seedLies(t, liar, b)
	leecher := newClient(t, "127.0.0.23", func(c *Config) {
		c.Peers = []string{liar.Addr().String(), honest.Addr().String()}
	})
	st := newStore(t)
	if err := leecher.Fetch(t.Context(), b.layer(), st.commit(b.digest), nil); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	s := leecher.Stats()
	if !slices.Contains(s.Banned, "127.0.0.22") || slices.Contains(s.Banned, "127.0.0.21") {
		t.Errorf("banned %q, want the liar 127.0.0.22 and not the honest 127.0.0.21", s.Banned)
	}
}

// TestResume: a fetch interrupted half way keeps its verified pieces in
// PartialDir; the next client (a restarted daemon) fetches only the rest.
func TestResume(t *testing.T) {
	b := newBlob(t, 2<<20, 7)
	slow := newClient(t, "127.0.0.31", func(c *Config) { c.UploadRate = 512 << 10 })
	seed(t, slow, newStore(t), b)
	partial := filepath.Join(t.TempDir(), "partial")
	first := newClient(t, "127.0.0.32", func(c *Config) {
		c.Peers = []string{slow.Addr().String()}
		c.PartialDir = partial
	})
	ctx, cancel := context.WithCancel(t.Context())
	var before int64
	err := first.Fetch(ctx, b.layer(), newStore(t).commit(b.digest), func(s LayerStats) {
		if s.Done >= int64(len(b.data))/3 {
			before = s.Done
			cancel()
		}
	})
	if err == nil || before == 0 {
		t.Fatalf("interrupted fetch: %v (done %d)", err, before)
	}
	first.Close()
	slow.Close()

	fast := newClient(t, "127.0.0.33", nil)
	seed(t, fast, newStore(t), b)
	second := newClient(t, "127.0.0.34", func(c *Config) {
		c.Peers = []string{fast.Addr().String()}
		c.PartialDir = partial
	})
	st := newStore(t)
	var last LayerStats
	if err := second.Fetch(t.Context(), b.layer(), st.commit(b.digest), func(s LayerStats) { last = s }); err != nil {
		t.Fatal(err)
	}
	st.check(t, b)
	if rest := int64(len(b.data)) - before; last.FromPeers > rest {
		t.Errorf("resumed fetch took %d bytes from peers; %d were already verified, so at most %d", last.FromPeers, before, rest)
	}
	if _, err := os.Stat(filepath.Join(partial, b.digest[7:])); !os.IsNotExist(err) {
		t.Errorf("partial file left behind after commit: %v", err)
	}
}
