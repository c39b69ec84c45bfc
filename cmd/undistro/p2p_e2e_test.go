package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// The swarm tests run an origin (`undistro serve`) and node daemons, each
// with its own root and its own loopback address 127.0.90.N (N >= 2; the
// origin's BitTorrent address is 127.0.90.1; its registry is on
// 127.0.0.1, port 0, the loopback address registry clients reach over
// plain HTTP), from the built binary. Their fixed ports are on those
// addresses only, which no other test uses.
const swarmNet = "127.0.90."

// swarmLayerSize is the big layer of the fleet image: big enough that
// "the origin sent less than 2x the layer bytes" means something, small
// enough to keep the tests fast.
const swarmLayerSize = 8 << 20

// swarmOrigin is a running `undistro serve` process.
type swarmOrigin struct {
	host string // HOST:PORT of its registry
	stop func() // SIGTERM and wait; idempotent
	dir  string
}

// startSwarmOrigin runs `undistro serve` on 127.0.0.1:0 with extra
// args until stop or the end of the test.
func startSwarmOrigin(t *testing.T, dir string, args ...string) *swarmOrigin {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "registry")}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	logs, err := os.Create(filepath.Join(dir, "origin.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("origin log:\n%s", tail(b, 4000))
		}
	})
	banner, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the serve banner: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	host := regexp.MustCompile(`http://(127\.0\.0\.1:[0-9]+)`).FindStringSubmatch(banner)
	if host == nil {
		t.Fatalf("serve banner %q: want its URL", banner)
	}
	return &swarmOrigin{host: host[1], stop: stop, dir: dir}
}

// sent reads the origin's byte counts from /metrics, by kind.
func (o *swarmOrigin) sent(t *testing.T) map[string]int64 {
	t.Helper()
	resp, err := http.Get("http://" + o.host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^undistro_origin_sent_bytes_total\{kind="([a-z]+)"\} ([0-9]+)$`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = n
	}
	if _, ok := out["blob"]; !ok {
		t.Fatalf("origin /metrics: no blob bytes in\n%s", b)
	}
	return out
}

// swarmImage is a signed image pushed to the origin.
type swarmImage struct {
	tag, byDigest, digest string
	layerBytes            int64
	blobs                 []string // layer digests
	keyFile               string
}

// pushSwarmImage pushes a signed image of role "fleet" to the origin: one
// big layer of deterministic incompressible bytes and one small one.
func pushSwarmImage(t *testing.T, o *swarmOrigin) *swarmImage {
	t.Helper()
	img := imagetest.Build(t, imagetest.Image{Role: "fleet", Layers: [][]imagetest.Entry{
		{imagetest.File("data/big", swarmBytes(swarmLayerSize))},
		{imagetest.File("etc/fleet", "fleet\n")},
	}})
	img = imagetest.WithInfoHashes(t, img)
	tag := o.host + "/undistro/fleet:1"
	r, err := name.ParseReference(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	s := imagetest.NewSigner(t)
	digest := s.Sign(t, tag)
	fi := &swarmImage{tag: tag, byDigest: o.host + "/undistro/fleet@" + digest, digest: digest, keyFile: filepath.Join(o.dir, "fleet.pub")}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		fi.layerBytes += l.Size
		fi.blobs = append(fi.blobs, l.Digest.String())
	}
	if err := os.WriteFile(fi.keyFile, s.PublicPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return fi
}

// swarmBytes is n incompressible bytes, the same in every run.
func swarmBytes(n int) string {
	b, _ := testsupport.Blob(n, 1)
	return string(b)
}

// swarmNode is a running `undistro node run` daemon.
type swarmNode struct {
	root, addr string // addr: its BitTorrent HOST:PORT
	daemon     *exec.Cmd
}

// stop stops the node's daemon (SIGTERM) and waits for it.
func (n *swarmNode) stop(t *testing.T) {
	t.Helper()
	if err := n.daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = n.daemon.Wait()
}

// startSwarmNode starts node i (i >= 2: address 127.0.90.i) trusting the
// image's key, with extra run args, and waits for its daemon.
func startSwarmNode(t *testing.T, dir string, i int, img *swarmImage, args ...string) *swarmNode {
	t.Helper()
	n := &swarmNode{root: filepath.Join(dir, fmt.Sprintf("node%d", i)), addr: fmt.Sprintf("%s%d:6881", swarmNet, i)}
	run(t, dir, nil, "node", "--root", n.root, "trust", "add", img.keyFile)
	n.daemon = startDaemon(t, dir, nil, append([]string{"node", "--root", n.root, "run", "--no-chroot", "--p2p", n.addr}, args...), fmt.Sprintf("node%d.log", i))
	testsupport.WaitFor(t, 30*time.Second, "node "+n.addr+"'s daemon", func() bool {
		_, err := os.Stat(filepath.Join(n.root, "undistro.sock"))
		return err == nil && e2eNodeStatus(t, dir, nil, n.root).Daemon
	})
	return n
}

// checkHas checks the node runs img and holds its layers with the right
// digests.
func (n *swarmNode) checkHas(t *testing.T, dir string, img *swarmImage) {
	t.Helper()
	st := e2eNodeStatus(t, dir, nil, n.root)
	if st.Current == nil || st.Current.Digest != img.digest {
		t.Errorf("node %s runs %+v, want %s", n.addr, st.Current, img.digest)
		return
	}
	for _, d := range img.blobs {
		f, err := os.Open(filepath.Join(n.root, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Errorf("node %s: %v", n.addr, err)
			continue
		}
		h, _, err := v1.SHA256(f)
		f.Close()
		if err != nil || h.String() != d {
			t.Errorf("node %s: blob %s hashes to %s (%v)", n.addr, d, h, err)
		}
	}
}

// TestSwarmOriginDown: nodes switch to a signed image from the origin;
// the origin stops; another node switches to it by digest from its peers
// alone, verified as usual, and is told a tag needs the registry.
func TestSwarmOriginDown(t *testing.T) {
	need(t)
	undistroBin(t)
	dir := t.TempDir()
	o := startSwarmOrigin(t, dir)
	img := pushSwarmImage(t, o)
	var first []*swarmNode
	var peers []string
	for i := 2; i <= 3; i++ {
		n := startSwarmNode(t, dir, i, img)
		run(t, dir, nil, "node", "--root", n.root, "switch", img.tag)
		n.checkHas(t, dir, img)
		first = append(first, n)
		peers = append(peers, n.addr)
	}
	o.stop()
	late := startSwarmNode(t, dir, 4, img, "--peers", strings.Join(peers, ","))
	_, err := runErr(dir, nil, "node", "--root", late.root, "switch", img.tag)
	if err == nil || !strings.Contains(err.Error(), "a tag needs the registry") {
		t.Fatalf("switching by tag with the origin down: %v, want the tag refused with a hint", err)
	}
	out := run(t, dir, nil, "node", "--root", late.root, "switch", img.byDigest)
	t.Logf("switch from peers: %s", out)
	late.checkHas(t, dir, img)
	var st struct {
		Current *struct {
			Admission *struct {
				KeyIDs []string `json:"keyIDs"`
			} `json:"admission"`
		} `json:"current"`
	}
	if err := json.Unmarshal([]byte(run(t, dir, nil, "node", "--root", late.root, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Current == nil || st.Current.Admission == nil || len(st.Current.Admission.KeyIDs) != 1 {
		t.Fatalf("the late node's admission %+v: want the image verified by the trusted key", st.Current)
	}
	// Its layers came from peers: nothing from the (stopped) origin.
	ps := swarmNodePeers(t, dir, late)
	for _, d := range img.blobs {
		l, ok := ps.layer(d)
		if !ok || l.FromOrigin != 0 || l.FromPeers != l.Size {
			t.Errorf("late node, layer %s: %+v, want all of it from peers", d, l)
		}
	}
	// What it got from peers, signature included, it serves in turn: with
	// the first nodes gone too, one more node switches from it alone.
	for _, n := range first {
		n.stop(t)
	}
	last := startSwarmNode(t, dir, 5, img, "--peers", late.addr)
	run(t, dir, nil, "node", "--root", last.root, "switch", img.byDigest)
	last.checkHas(t, dir, img)
}

// swarmPeers is `node peers --json`.
type swarmPeers struct {
	Peers []struct {
		Addr string `json:"addr"`
	} `json:"peers"`
	Banned []string     `json:"banned"`
	Layers []swarmLayer `json:"layers"`
}

type swarmLayer struct {
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	FromPeers  int64  `json:"fromPeers"`
	FromOrigin int64  `json:"fromOrigin"`
}

func (p *swarmPeers) layer(digest string) (l swarmLayer, ok bool) {
	for _, x := range p.Layers {
		if x.Digest == digest {
			return x, true
		}
	}
	return l, false
}

func swarmNodePeers(t *testing.T, dir string, n *swarmNode) *swarmPeers {
	t.Helper()
	out := run(t, dir, nil, "node", "--root", n.root, "peers", "--json")
	var p swarmPeers
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("node peers --json %q: %v", out, err)
	}
	return &p
}

// swarmSize is how many nodes pull at once in TestSwarmRollout.
const swarmSize = 5

// TestSwarmRollout: an origin seeding over BitTorrent and swarmSize node
// daemons pull the same signed image at the same moment; each ends with
// the right digests, and the origin sent (registry blobs and manifests,
// web-seed ranges, BitTorrent upload together) less than twice the image's
// layer bytes.
func TestSwarmRollout(t *testing.T) {
	need(t)
	undistroBin(t)
	dir := t.TempDir()
	// The origin's link is the fleet's bottleneck, as in production: its
	// seeder is capped (on loopback it would otherwise out-run every peer
	// and hand each node its own copy).
	o := startSwarmOrigin(t, dir, "--p2p", swarmNet+"1:6881", "--p2p-up", "4M")
	img := pushSwarmImage(t, o)
	var nodes []*swarmNode
	for i := 2; i < 2+swarmSize; i++ {
		nodes = append(nodes, startSwarmNode(t, dir, i, img, "--peers", swarmNet+"1:6881", "--trackers", "http://"+o.host+"/announce"))
	}
	before := o.sent(t)
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() {
			_, errs[i] = runErr(dir, nil, "node", "--root", n.root, "switch", img.tag)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %s: switch: %v", nodes[i].addr, err)
		}
	}
	for _, n := range nodes {
		n.checkHas(t, dir, img)
	}
	after := o.sent(t)
	var total int64
	for kind, n := range after {
		total += n - before[kind]
	}
	t.Logf("origin sent %d bytes for %d nodes (by kind, from %v to %v); the image's layers are %d bytes: %.2fx",
		total, len(nodes), before, after, img.layerBytes, float64(total)/float64(img.layerBytes))
	if total >= 2*img.layerBytes {
		t.Errorf("the origin sent %d bytes, not less than 2x the layer bytes (%d)", total, 2*img.layerBytes)
	}
}

// TestSwarmLyingPeer: a node whose stored copy of the big layer has been
// corrupted seeds bad pieces; the nodes that join after it complete with
// the right digests and ban it, as `node peers` shows.
func TestSwarmLyingPeer(t *testing.T) {
	need(t)
	undistroBin(t)
	dir := t.TempDir()
	o := startSwarmOrigin(t, dir, "--p2p", swarmNet+"1:6881")
	img := pushSwarmImage(t, o)
	liar := startSwarmNode(t, dir, 2, img, "--peers", swarmNet+"1:6881")
	honest := startSwarmNode(t, dir, 3, img, "--peers", swarmNet+"1:6881")
	for _, n := range []*swarmNode{liar, honest} {
		run(t, dir, nil, "node", "--root", n.root, "switch", img.tag)
		n.checkHas(t, dir, img)
	}
	// Corrupt every piece of the liar's copy in place, behind its daemon's
	// back: it keeps seeding the file it verified.
	big := filepath.Join(liar.root, "blobs", "sha256", strings.TrimPrefix(img.blobs[0], "sha256:"))
	corruptPieces(t, big, btmeta.PieceLength(swarmLayerSize))
	var late []*swarmNode
	for i := 4; i <= 5; i++ {
		late = append(late, startSwarmNode(t, dir, i, img, "--peers", liar.addr+","+honest.addr))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(late))
	for i, n := range late {
		wg.Go(func() { _, errs[i] = runErr(dir, nil, "node", "--root", n.root, "switch", img.tag) })
	}
	wg.Wait()
	liarIP := strings.TrimSuffix(liar.addr, ":6881")
	bans := 0
	for i, n := range late {
		if errs[i] != nil {
			t.Fatalf("node %s: switch beside a lying peer: %v", n.addr, errs[i])
		}
		n.checkHas(t, dir, img)
		ps := swarmNodePeers(t, dir, n)
		t.Logf("node %s: banned %v", n.addr, ps.Banned)
		if slices.Contains(ps.Banned, liarIP) {
			bans++
		}
		for _, b := range ps.Banned {
			if a, err := netip.ParseAddr(b); err != nil || a.Unmap().String() != liarIP {
				t.Errorf("node %s banned %s, an honest peer", n.addr, b)
			}
		}
		out := run(t, dir, nil, "node", "--root", n.root, "peers")
		_, bannedLine, _ := strings.Cut(out, "banned (sent pieces that failed their hash): ")
		if slices.Contains(ps.Banned, liarIP) && !strings.Contains(bannedLine, liarIP) {
			t.Errorf("node %s: `node peers` does not show the banned %s:\n%s", n.addr, liarIP, out)
		}
	}
	if bans == 0 {
		t.Fatalf("no node banned the lying peer %s", liarIP)
	}
}

// corrupt flips a byte in every piece of the file at path, in place.
func corruptPieces(t *testing.T, path string, pieceLen int64) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	for off := pieceLen / 2; off < fi.Size(); off += pieceLen {
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}
