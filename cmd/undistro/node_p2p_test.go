package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/trust"
)

// TestNodeP2PCommands: a daemon with --p2p seeds the layers of an image it
// pulled; `node peers --json` lists them and `node torrent` writes a
// metainfo whose infohash is the one the manifest names.
func TestNodeP2PCommands(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	if _, err := undistro(ctx, "node", "--root", root, "peers"); err == nil || !strings.Contains(err.Error(), "--p2p") {
		t.Errorf("node peers without a daemon: %v, want a hint to run one with --p2p", err)
	}
	for _, tc := range []struct{ flag, want string }{
		{"--p2p-allow=example.com", `--p2p-allow: allow-list entry "example.com"`},
		{"--p2p-up=fast", `--p2p-up: rate "fast"`},
	} {
		if _, err := undistro(ctx, "node", "--root", root, "run", "--no-chroot", tc.flag); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("node run %s: %v, want %q", tc.flag, err, tc.want)
		}
	}

	big := make([]byte, 300<<10)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	img := imagetest.WithInfoHashes(t, imagetest.Build(t, imagetest.Image{Role: "web",
		Layers: [][]imagetest.Entry{{imagetest.File("blob", string(big))}}}))
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{imagespec.RefNameAnnotation: "web"})); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	layer := m.Layers[0]
	// Only images admitted on a verified signature are seeded.
	signer := imagetest.NewSigner(t)
	signer.Sign(t, "oci:"+dir+":web")
	if _, err := trust.Add(root, "test.pub", signer.PublicPEM); err != nil {
		t.Fatal(err)
	}

	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := undistro(dctx, "node", "--root", root, "run", "--no-chroot", "--p2p", "127.0.0.111:0")
		done <- err
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("node run: %v", err)
		}
	}()
	testsupport.WaitFor(t, 10*time.Second, "the daemon", func() bool {
		c, err := node.Dial(ctx, filepath.Join(root, "undistro.sock"))
		if err == nil {
			_, err = c.P2P(ctx)
		}
		return err == nil
	})
	if _, err := undistro(ctx, "node", "--root", root, "pull", "oci:"+dir+":web", "--json"); err != nil {
		t.Fatal(err)
	}
	var s p2p.Stats
	testsupport.WaitFor(t, 10*time.Second, "the layer to be seeded", func() bool {
		out, err := undistro(ctx, "node", "--root", root, "peers", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("peers --json: %v\n%s", err, out)
		}
		return len(s.Layers) == 1 && s.Layers[0].Seeding
	})
	if s.Layers[0].Digest != layer.Digest.String() || s.Layers[0].InfoHash != layer.Annotations[btmeta.Annotation] {
		t.Errorf("peers lists %+v, want layer %s with infohash %s", s.Layers[0], layer.Digest, layer.Annotations[btmeta.Annotation])
	}
	out, err := undistro(ctx, "node", "--root", root, "peers")
	if err != nil || !strings.Contains(out, "seeding") || !strings.Contains(out, "listening on 127.0.0.111:") {
		t.Errorf("node peers: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "layer.torrent")
	if _, err := undistro(ctx, "node", "--root", root, "torrent", layer.Digest.String(), "-o", file); err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.LoadFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := mi.HashInfoBytes().HexString(); got != layer.Annotations[btmeta.Annotation] {
		t.Errorf("torrent infohash %s, manifest says %s", got, layer.Annotations[btmeta.Annotation])
	}
	if _, err := undistro(ctx, "node", "--root", root, "torrent", "sha256:"+strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "is not seeded here") {
		t.Errorf("torrent of an unknown blob: %v", err)
	}
}

// TestPeersFromNodeConfig: node run's peers and trackers come from the
// node config's [p2p] table unless --peers / --trackers are given.
func TestPeersFromNodeConfig(t *testing.T) {
	nc, err := facts.ParseConfig("node.toml", []byte("[p2p]\npeers = [\"10.0.0.2:6881\"]\ntrackers = [\"http://origin:5000/announce\"]\n"), "n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args            []string
		peers, trackers []string
	}{
		{nil, []string{"10.0.0.2:6881"}, []string{"http://origin:5000/announce"}},
		{[]string{"--peers", "10.0.0.9:6881"}, []string{"10.0.0.9:6881"}, []string{"http://origin:5000/announce"}},
		{[]string{"--trackers", "http://t:1/announce"}, []string{"10.0.0.2:6881"}, []string{"http://t:1/announce"}},
	} {
		cmd := &cobra.Command{Use: "run"}
		bt := btFlags(cmd)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		b, err := bt(nc)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.Peers, tc.peers) || !slices.Equal(b.Trackers, tc.trackers) {
			t.Errorf("%q: peers %q trackers %q, want %q %q", tc.args, b.Peers, b.Trackers, tc.peers, tc.trackers)
		}
	}
}
