package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/p2p"
)

// TestPullFromPeersWhenRegistryDown: node A pulls a signed and an unsigned
// image from the registry and serves its peers; the registry goes away;
// node B pulls the signed image by digest from A alone, verified as usual,
// while A refuses to serve the unsigned one and a tag still needs the
// registry.
func TestPullFromPeersWhenRegistryDown(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	reg := strings.TrimPrefix(srv.URL, "http://")
	base, web := reg+"/undistro/base:latest", reg+"/undistro/web:latest"
	push(t, refs["base"], base)
	push(t, refs["web"], web)
	s := imagetest.NewSigner(t)
	digest := s.Sign(t, base)
	webDigest := headDigest(t, web)

	cfgA := testConfig(t)
	cfgA.Peer.Addr = "127.0.0.1:0"
	a, err := Open(ctx, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	addKey(t, a.Root(), s)
	ca := runDaemon(t, a)
	if _, err := ca.Pull(ctx, base, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Pull(ctx, web, PullOptions{Admit: Admit{InsecureAllowUnsigned: true}}); err != nil {
		t.Fatal(err)
	}
	peer := a.PeerAddr().String()
	srv.Close() // the registry is down from here on

	// What A serves, and what it does not.
	get := func(method, path string) int {
		req, _ := http.NewRequest(method, "http://"+peer+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"ping", "GET", "/v2/", 200},
		{"verified manifest", "GET", "/v2/undistro/base/manifests/" + digest, 200},
		{"verified manifest, any repository", "HEAD", "/v2/other/manifests/" + digest, 200},
		{"signature", "GET", "/v2/undistro/base/manifests/" + imagetest.AttachmentTag(digest, "sig"), 200},
		{"attestation", "GET", "/v2/undistro/base/manifests/" + imagetest.AttachmentTag(digest, "att"), 200},
		{"unsigned image", "GET", "/v2/undistro/web/manifests/" + webDigest, 404},
		{"unsigned image's signature", "GET", "/v2/undistro/web/manifests/" + imagetest.AttachmentTag(webDigest, "sig"), 404},
		{"tag", "GET", "/v2/undistro/base/manifests/latest", 404},
		{"write", "PUT", "/v2/undistro/base/manifests/" + digest, 405},
		{"upload", "POST", "/v2/undistro/base/blobs/uploads/", 405},
		{"catalog", "GET", "/v2/_catalog", 404},
		{"traversal", "GET", "/v2/../../etc/passwd/blobs/" + digest, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.method, tc.path); got != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
			}
		})
	}

	// A lying peer answers everything with the wrong bytes; B asks it first.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"schemaVersion":2,"lies":true}`))
	}))
	t.Cleanup(liar.Close)
	cfgB := testConfig(t)
	cfgB.Peer.Endpoints = func() []string { return []string{strings.TrimPrefix(liar.URL, "http://"), peer} }
	b, err := Open(ctx, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	addKey(t, b.Root(), s)
	byDigest := reg + "/undistro/base@" + digest
	failsUnchanged(t, b.Root(), "peers serve images by digest only, a tag needs the registry: name the image as "+reg+"/undistro/base@sha256:…", func() error {
		_, err := b.Switch(ctx, base, SwitchOptions{})
		return err
	})
	failsUnchanged(t, b.Root(), "no peer has it", func() error {
		_, err := b.Pull(ctx, reg+"/undistro/web@"+webDigest, PullOptions{Admit: Admit{InsecureAllowUnsigned: true}})
		return err
	})
	if _, err := b.Switch(ctx, byDigest, SwitchOptions{}); err != nil {
		t.Fatalf("switching by digest from peers: %v", err)
	}
	st := mustStatus(t, b)
	if st.Current == nil || st.Current.Digest != digest || st.Current.Admission == nil || len(st.Current.Admission.KeyIDs) != 1 {
		t.Fatalf("B's current image %+v: want %s admitted by the signing key", st.Current, digest)
	}
	img, err := b.Store().Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]string{digest, img.ConfigDigest}, img.Blobs...) {
		h := strings.TrimPrefix(d, "sha256:")
		x, _ := os.ReadFile(filepath.Join(a.Root(), "blobs", "sha256", h))
		y, err := os.ReadFile(filepath.Join(b.Root(), "blobs", "sha256", h))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("blob %s on B differs from A's (%v)", d, err)
		}
	}
	// B keeps the signature too, so it can serve it in turn.
	if _, err := b.attachments().Manifest(digest, "sig"); err != nil {
		t.Errorf("B kept no signature of what it verified: %v", err)
	}
}

func headDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

// failsUnchanged checks op fails with msg and leaves the node root as it was.
func failsUnchanged(t *testing.T, root, msg string, op func() error) {
	t.Helper()
	before := storeTree(t, root)
	err := op()
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %v, want one containing %q", err, msg)
	}
	t.Logf("refused: %v", err)
	if after := storeTree(t, root); after != before {
		t.Fatalf("a refused image changed the node root:\n%s\nbefore:\n%s", after, before)
	}
}

// TestPeeringFollowsBitTorrent: the peer endpoint is the BT port + 1, its
// allow-list the BT one, its peers the BT bootstrap peers at their
// endpoints; an explicit PeerConfig wins.
func TestPeeringFollowsBitTorrent(t *testing.T) {
	for _, tc := range []struct {
		name             string
		bt               BitTorrent
		peer             PeerConfig
		addr, allow, eps string
		err              string
	}{
		{name: "off", bt: BitTorrent{Listen: "off"}, addr: "", allow: "[]", eps: "[]"},
		{name: "default allow", bt: BitTorrent{Listen: "127.0.90.2:6881", Peers: []string{"127.0.90.3:6881", "127.0.90.3:6881", "10.0.0.1:7000"}},
			addr: "127.0.90.2:6882", allow: fmt.Sprint(p2p.DefaultAllow), eps: "[127.0.90.3:6882 10.0.0.1:7001]"},
		{name: "allow-list", bt: BitTorrent{Listen: "0.0.0.0:6881", Allow: []string{"10.0.0.0/8", "192.168.1.7"}},
			addr: "0.0.0.0:6882", allow: "[10.0.0.0/8 192.168.1.7/32]", eps: "[]"},
		{name: "explicit", bt: BitTorrent{Listen: "0.0.0.0:6881"}, peer: PeerConfig{Addr: "127.0.0.1:9", Endpoints: func() []string { return []string{"x:1"} }},
			addr: "127.0.0.1:9", allow: fmt.Sprint(p2p.DefaultAllow), eps: "[x:1]"},
		{name: "bad listen", bt: BitTorrent{Listen: "6881"}, err: "--p2p: peer address \"6881\""},
		{name: "bad allow", bt: BitTorrent{Listen: "0.0.0.0:6881", Allow: []string{"ten"}}, err: "--p2p-allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{cfg: Config{BitTorrent: tc.bt, Peer: tc.peer}}
			pc, err := n.peering()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("peering: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var eps []string
			if pc.Endpoints != nil {
				eps = pc.Endpoints()
			}
			if pc.Addr != tc.addr || fmt.Sprint(pc.Allow) != tc.allow || fmt.Sprint(eps) != tc.eps {
				t.Fatalf("peering = %q %v %v, want %q %s %s", pc.Addr, pc.Allow, eps, tc.addr, tc.allow, tc.eps)
			}
		})
	}
}
