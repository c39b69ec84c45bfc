package peerreg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// dirContent serves the files of a directory named by their digest hex:
// the smallest real Content.
type dirContent struct {
	dir     string
	attachs map[string]string // "IMAGE kind" -> manifest digest
}

func (c *dirContent) Open(digest string) (File, error) {
	return os.Open(filepath.Join(c.dir, strings.TrimPrefix(digest, "sha256:")))
}

func (c *dirContent) Attachment(image, kind string) (string, error) {
	if d, ok := c.attachs[image+" "+kind]; ok {
		return d, nil
	}
	return "", fs.ErrNotExist
}

func put(t *testing.T, dir string, b []byte) string {
	t.Helper()
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, h), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + h
}

func serve(t *testing.T, addr string, allow []netip.Prefix, c Content) string {
	t.Helper()
	if allow == nil {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	s, err := Listen(addr, allow, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s.Addr().String()
}

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}`)
	md := put(t, dir, manifest)
	sig := put(t, dir, []byte(`{"schemaVersion":2}`))
	blob := put(t, dir, []byte("0123456789"))
	addr := serve(t, "127.0.0.1:0", nil, &dirContent{dir: dir, attachs: map[string]string{md + " sig": sig}})
	for _, tc := range []struct {
		name, method, path, rng string
		code                    int
		body, contentType       string
	}{
		{name: "ping", method: "GET", path: "/v2/", code: 200},
		{name: "manifest", method: "GET", path: "/v2/r/manifests/" + md, code: 200, body: string(manifest), contentType: "application/vnd.docker.distribution.manifest.v2+json"},
		{name: "manifest head", method: "HEAD", path: "/v2/r/manifests/" + md, code: 200, contentType: "application/vnd.docker.distribution.manifest.v2+json"},
		{name: "signature by tag", method: "GET", path: "/v2/r/manifests/" + strings.Replace(md, ":", "-", 1) + ".sig", code: 200, body: `{"schemaVersion":2}`, contentType: "application/vnd.oci.image.manifest.v1+json"},
		{name: "no attestation", method: "GET", path: "/v2/r/manifests/" + strings.Replace(md, ":", "-", 1) + ".att", code: 404},
		{name: "blob", method: "GET", path: "/v2/r/blobs/" + blob, code: 200, body: "0123456789"},
		{name: "blob range (web seed)", method: "GET", path: "/v2/r/blobs/" + blob, rng: "bytes=2-4", code: 206, body: "234"},
		{name: "blob as manifest: not JSON", method: "GET", path: "/v2/r/manifests/" + blob, code: 500},
		{name: "unknown", method: "GET", path: "/v2/r/blobs/sha256:" + strings.Repeat("0", 64), code: 404},
		{name: "delete", method: "DELETE", path: "/v2/r/blobs/" + blob, code: 405},
		{name: "patch", method: "PATCH", path: "/v2/r/blobs/uploads/x", code: 405},
		{name: "tag", method: "GET", path: "/v2/r/manifests/latest", code: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.code)
			}
			if tc.body != "" && string(b) != tc.body {
				t.Errorf("body %q, want %q", b, tc.body)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
		})
	}
}

// TestAllowList: a connection from outside the allow-list is closed before
// a byte of the request is read; one from inside is served.
func TestAllowList(t *testing.T) {
	dir := t.TempDir()
	blob := put(t, dir, []byte("x"))
	only := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	addr := serve(t, "127.0.0.1:0", only, &dirContent{dir: dir})
	client := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	if _, err := client("127.0.0.1").Get("http://" + addr + "/v2/r/blobs/" + blob); err == nil {
		t.Fatal("a peer outside the allow-list was served")
	} else {
		t.Logf("refused: %v", err)
	}
	resp, err := client("127.0.0.2").Get("http://" + addr + "/v2/r/blobs/" + blob)
	if err != nil {
		t.Fatalf("a peer inside the allow-list: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a peer inside the allow-list: %s", resp.Status)
	}
}

func TestAllowed(t *testing.T) {
	fleet := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10")}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.9", true}, {"10.1.2.3", true}, {"172.31.0.1", true}, {"172.32.0.1", false},
		{"192.168.1.1", true}, {"8.8.8.8", false}, {"::1", true}, {"fd00::1", true}, {"fe80::1", true},
		{"2001:db8::1", false}, {"::ffff:10.0.0.1", true}, {"::ffff:8.8.8.8", false},
	} {
		if got := Allowed(fleet, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Allowed(fleet, %s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if Allowed(nil, netip.MustParseAddr("127.0.0.1")) {
		t.Error("an empty allow-list allows")
	}
	if _, err := Listen("127.0.0.1:0", nil, &dirContent{}); err == nil || !strings.Contains(err.Error(), "empty allow-list") {
		t.Errorf("Listen without an allow-list: %v", err)
	}
}

func TestEndpointFor(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "127.0.0.3:6881", want: "127.0.0.3:6882"},
		{in: "[fd00::1]:7000", want: "[fd00::1]:7001"},
		{in: "host:0", want: "host:0"},
		{in: "127.0.0.1", err: "want HOST:PORT"},
		{in: "127.0.0.1:65535", err: "want 0 to 65534"},
		{in: "127.0.0.1:x", err: "want 0 to 65534"},
	} {
		got, err := EndpointFor(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("EndpointFor(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("EndpointFor(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestTransport: requests go to the peers in turn; a peer without the
// content, an unreachable one, and one that serves wrong bytes for a small
// digest are skipped; writes never leave the node.
func TestTransport(t *testing.T) {
	dir := t.TempDir()
	blob := put(t, dir, []byte("the blob"))
	good := serve(t, "127.0.0.1:0", nil, &dirContent{dir: dir})
	empty := serve(t, "127.0.0.1:0", nil, &dirContent{dir: t.TempDir()})
	var lies atomic.Int32
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lies.Add(1)
		fmt.Fprint(w, "not the blob")
	}))
	t.Cleanup(liar.Close)
	dead := testListenClosed(t)
	tr := &Transport{Peers: func() []string { return []string{dead, strings.TrimPrefix(liar.URL, "http://"), empty, good} }}
	c := &http.Client{Transport: tr}
	for i := range 4 { // every starting peer
		resp, err := c.Get("http://registry.invalid/v2/r/blobs/" + blob)
		if err != nil {
			t.Fatalf("try %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "the blob" {
			t.Fatalf("try %d: %s %q, want the blob", i, resp.Status, b)
		}
	}
	if lies.Load() == 0 {
		t.Error("the liar was never asked: the test proves nothing")
	}
	resp, err := c.Get("http://registry.invalid/v2/r/blobs/sha256:" + strings.Repeat("1", 64))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "no peer has it") {
		t.Errorf("missing blob: %s %s, want 404 naming the peers", resp.Status, b)
	}
	if _, err := c.Post("http://registry.invalid/v2/r/blobs/uploads/", "text/plain", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("POST through peers: %v, want refused", err)
	}
	none := &http.Client{Transport: &Transport{Peers: func() []string { return nil }}}
	if _, err := none.Get("http://registry.invalid/v2/"); !errors.Is(err, ErrNoPeers) {
		t.Errorf("no peers: %v, want ErrNoPeers", err)
	}
}

// testListenClosed returns an address nothing listens on.
func testListenClosed(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestMaxConns: a peer holding MaxConns idle connections does not get one
// more served until it lets one go.
func TestMaxConns(t *testing.T) {
	dir := t.TempDir()
	blob := put(t, dir, []byte("x"))
	addr := serve(t, "127.0.0.1:0", nil, &dirContent{dir: dir})
	var held []net.Conn
	for range MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	get := func() error {
		c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/v2/r/blobs/" + blob)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err == nil {
		t.Fatal("served beyond MaxConns connections")
	}
	held[0].Close()
	testsupport.WaitFor(t, 10*time.Second, "a connection slot to free", func() bool { return get() == nil })
	for _, c := range held[1:] {
		c.Close()
	}
}
