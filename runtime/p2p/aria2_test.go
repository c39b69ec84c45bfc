package p2p

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/p2p/tracker"
)

// TestAria2Interop: aria2c, another BitTorrent implementation, downloads a
// layer from a seeding client with the metainfo `node torrent` prints
// (Client.Metainfo), finding it through the tracker; the file is the blob
// byte for byte.
func TestAria2Interop(t *testing.T) {
	aria2c := testsupport.RequireTool(t, "aria2c", "apt-get install aria2 (make deps)")
	srv := httptest.NewServer(tracker.New(DefaultAllow))
	t.Cleanup(srv.Close)
	b := newBlob(t, 1<<20+77, 9)
	node := newClient(t, "127.0.0.61", func(c *Config) { c.Trackers = []string{srv.URL + "/announce"} })
	seed(t, node, newStore(t), b)
	mi, err := node.Metainfo(b.digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	torrentFile := filepath.Join(dir, "layer.torrent")
	if err := os.WriteFile(torrentFile, mi, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aria2c, "--dir="+out, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--summary-interval=0", "--console-log-level=warn", "--log="+filepath.Join(dir, "aria2.log"), "--log-level=info",
		"--bt-tracker-connect-timeout=10", "--bt-stop-timeout=60", "--file-allocation=none", "--listen-port=51413-51999",
		torrentFile)
	if o, err := cmd.CombinedOutput(); err != nil {
		l, _ := os.ReadFile(filepath.Join(dir, "aria2.log"))
		t.Fatalf("aria2c: %v\n%s\nlog:\n%s", err, o, l[max(0, len(l)-4000):])
	}
	got, err := os.ReadFile(filepath.Join(out, b.digest[len("sha256:"):]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.data) {
		t.Fatal("aria2c's download differs from the blob")
	}
	if s := node.Stats(); s.Layers[0].Uploaded < int64(len(b.data)) {
		t.Errorf("node uploaded %d bytes, want the whole blob", s.Layers[0].Uploaded)
	}
}
