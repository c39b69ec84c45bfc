package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// countingRegistry is an in-memory registry that counts the layer blob
// bytes it sends.
type countingRegistry struct {
	h     http.Handler
	mu    sync.Mutex
	bytes map[string]int64 // by path
	// corrupt, when set, is a blob digest whose body is served corrupt.
	corrupt string
}

func (c *countingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/sha256:") && r.Method == http.MethodGet {
		cw := &countingWriter{ResponseWriter: w}
		c.mu.Lock()
		cw.corrupt = c.corrupt != "" && strings.HasSuffix(r.URL.Path, c.corrupt)
		c.mu.Unlock()
		c.h.ServeHTTP(cw, r)
		c.mu.Lock()
		c.bytes[r.URL.Path] += cw.n
		c.mu.Unlock()
		return
	}
	c.h.ServeHTTP(w, r)
}

type countingWriter struct {
	http.ResponseWriter
	n       int64
	corrupt bool
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.corrupt && len(b) > 0 {
		b = append([]byte{}, b...)
		b[0] ^= 0xff
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (c *countingRegistry) sent(digest string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for p, b := range c.bytes {
		if strings.HasSuffix(p, digest) {
			n += b
		}
	}
	return n
}

// TestPullThroughP2P: node A pulls an annotated image with nobody to ask
// (its layer comes from the registry) and seeds it; node B, with A as
// peer, pulls the same image and gets the layer from A: the registry sends
// it once.
func TestPullThroughP2P(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0))), bytes: map[string]int64{}}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	big := make([]byte, 600<<10) // incompressible: a multi-piece layer
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	img := imagetest.WithInfoHashes(t, imagetest.Build(t, imagetest.Image{Role: "web",
		Layers: [][]imagetest.Entry{{imagetest.File("blob", string(big))}},
		Meta:   imagespec.Image{}}))
	ref := strings.TrimPrefix(srv.URL, "http://") + "/undistro/web:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	signer := imagetest.NewSigner(t)
	signer.Sign(t, ref)
	m, _ := img.Manifest()
	layer := m.Layers[0].Digest.String()

	start := func(ip string, webSeedDelay time.Duration, peers ...string) *Node {
		cfg := testConfig(t)
		addKey(t, cfg.Root, signer)
		cfg.BitTorrent = BitTorrent{Listen: ip + ":0", Peers: peers, WebSeedDelay: webSeedDelay}
		return openP2P(t, cfg)
	}
	pull := PullOptions{}

	a := start("127.0.0.41", 0)
	if _, err := a.Pull(logCtx(t.Context()), ref, pull); err != nil {
		t.Fatal(err)
	}
	if got := reg.sent(layer); got < m.Layers[0].Size {
		t.Fatalf("registry sent %d bytes of the layer to the first node, want all %d", got, m.Layers[0].Size)
	}
	before := reg.sent(layer)
	// With nobody to ask, the first node read the layer the registry way,
	// and seeds it.
	if s, err := a.P2P(logCtx(t.Context())); err != nil || len(s.Layers) != 1 || !s.Layers[0].Seeding {
		t.Fatalf("first node's p2p state: %+v, %v; want the layer seeded", s, err)
	}

	// B waits long for its peer before the web seed: on a loaded machine
	// the registry must not step in.
	b := start("127.0.0.42", time.Minute, a.bt.Load().Addr().String())
	got, err := b.Pull(logCtx(t.Context()), ref, pull)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Blobs) != 1 || got.Blobs[0] != layer {
		t.Fatalf("pulled blobs %q, want [%s]", got.Blobs, layer)
	}
	if sent := reg.sent(layer) - before; sent != 0 {
		t.Errorf("registry sent %d layer bytes to the second node; its peer had them all", sent)
	}
	s, err := b.P2P(logCtx(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Layers) != 1 || !s.Layers[0].Seeding || s.Layers[0].FromPeers < m.Layers[0].Size || s.Layers[0].FromOrigin != 0 {
		t.Errorf("second node's layer stats %+v", s.Layers)
	}
	// A node whose only peer is dead waits WebSeedDelay for the swarm,
	// then reads the layer from the registry's blob URL (the web seed).
	before = reg.sent(layer)
	c := start("127.0.0.43", 200*time.Millisecond, "127.0.0.44:9")
	if _, err := c.Pull(logCtx(t.Context()), ref, pull); err != nil {
		t.Fatal(err)
	}
	if s, err := c.P2P(logCtx(t.Context())); err != nil || len(s.Layers) != 1 || s.Layers[0].FromOrigin < m.Layers[0].Size {
		t.Errorf("third node's p2p state %+v, %v: want the layer from the origin", s, err)
	}
	if sent := reg.sent(layer) - before; sent < m.Layers[0].Size {
		t.Errorf("registry sent %d layer bytes to the third node, want %d", sent, m.Layers[0].Size)
	}
	// An image admitted without a verified signature joins no swarm and
	// is not seeded: its layer comes from the registry though a peer has
	// it.
	before = reg.sent(layer)
	d := start("127.0.0.49", time.Minute, a.bt.Load().Addr().String())
	if _, err := d.Pull(logCtx(t.Context()), ref, PullOptions{Admit: Admit{InsecureAllowUnsigned: true}}); err != nil {
		t.Fatal(err)
	}
	if s, err := d.P2P(logCtx(t.Context())); err != nil || len(s.Layers) != 0 {
		t.Errorf("node with an unsigned admission: p2p state %+v, %v; want no torrent", s, err)
	}
	if sent := reg.sent(layer) - before; sent < m.Layers[0].Size {
		t.Errorf("registry sent %d layer bytes for the unsigned admission, want %d", sent, m.Layers[0].Size)
	}
	// Its metainfo names the layer's infohash and the registry as web seed.
	mi, err := b.Torrent(logCtx(t.Context()), layer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mi), "/v2/undistro/web/blobs/"+layer) || !strings.Contains(string(mi), "4:info") {
		t.Errorf("metainfo %q", mi[:min(len(mi), 300)])
	}
}

// TestFailedP2PPullLeavesNothing: the origin serves a corrupt layer and no
// peer has it: the pull fails saying why, and the store is as it was.
func TestFailedP2PPullLeavesNothing(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0))), bytes: map[string]int64{}}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	img := imagetest.WithInfoHashes(t, imagetest.Build(t, imagetest.Image{Role: "web",
		Layers: [][]imagetest.Entry{{imagetest.File("a", strings.Repeat("x", 100<<10))}}}))
	ref := strings.TrimPrefix(srv.URL, "http://") + "/undistro/web:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	signer := imagetest.NewSigner(t)
	signer.Sign(t, ref)
	m, _ := img.Manifest()
	reg.corrupt = m.Layers[0].Digest.String()
	cfg := testConfig(t)
	addKey(t, cfg.Root, signer)
	cfg.BitTorrent = BitTorrent{Listen: "127.0.0.45:0", Peers: []string{"127.0.0.46:9"}, WebSeedDelay: 200 * time.Millisecond}
	n := openP2P(t, cfg)
	_, err := n.Pull(logCtx(t.Context()), ref, PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "its content hashes to sha256:") || !strings.Contains(err.Error(), "from the origin") {
		t.Fatalf("pull of a corrupt layer: %v, want the mismatch and its source named", err)
	}
	if imgs, _ := n.st.List(); len(imgs) != 0 {
		t.Errorf("store lists %d images", len(imgs))
	}
	if _, err := n.st.BlobPath(m.Layers[0].Digest.String()); err == nil {
		t.Error("the corrupt layer entered the store")
	}
	if ents, _ := os.ReadDir(n.st.PartialDir()); len(ents) != 0 {
		t.Errorf("partial area keeps %d files", len(ents))
	}
}

// TestWebSeedUsesRegistryCredentials: the web seed reads the blob with the
// node's registry credentials (docker's config.json), as a pull does.
func TestWebSeedUsesRegistryCredentials(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "node" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("node:s3cret"))
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)

	img := imagetest.WithInfoHashes(t, imagetest.Build(t, imagetest.Image{Role: "web",
		Layers: [][]imagetest.Entry{{imagetest.File("a", strings.Repeat("y", 200<<10))}}}))
	ref := host + "/undistro/web:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "node", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	signer := imagetest.NewSigner(t)
	signer.Sign(t, ref)
	cfg := testConfig(t)
	addKey(t, cfg.Root, signer)
	cfg.BitTorrent = BitTorrent{Listen: "127.0.0.47:0", Peers: []string{"127.0.0.48:9"}, WebSeedDelay: 200 * time.Millisecond}
	n := openP2P(t, cfg)
	if _, err := n.Pull(logCtx(t.Context()), ref, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if s, err := n.P2P(logCtx(t.Context())); err != nil || len(s.Layers) != 1 || s.Layers[0].FromOrigin < m.Layers[0].Size {
		t.Errorf("p2p state %+v, %v: want the layer from the registry as web seed", s, err)
	}
}

// openP2P opens a node on cfg with its BitTorrent client running, both
// closed when the test ends.
func openP2P(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Open(logCtx(context.Background()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := n.startP2P(logCtx(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); n.Close() })
	return n
}
