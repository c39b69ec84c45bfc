package origin

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestEgress: the origin counts the blob and manifest bytes it sends,
// range requests included, plus what other senders report, and shows them
// at /metrics to loopback clients.
func TestEgress(t *testing.T) {
	srv, _ := start(t, t.TempDir())
	img := randomImage(t)
	r := ref(t, host(srv)+"/undistro/web:1")
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	if got := srv.Egress().Stats(); got.BlobBytes != 0 {
		t.Fatalf("after a push: %+v, want no blob bytes sent", got)
	}
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	var layerBytes int64
	layers, _ := pulled.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		layerBytes += n
	}
	raw, _ := pulled.RawConfigFile()
	rawManifest, _ := pulled.RawManifest()
	want := layerBytes + int64(len(raw))
	// One range request, as a web seed sends for a piece.
	d, _ := layers[0].Digest()
	req, _ := http.NewRequest("GET", srv.URL()+"/v2/undistro/web/blobs/"+d.String(), nil)
	req.Header.Set("Range", "bytes=10-109")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("range request: %s", resp.Status)
	}
	want += 100
	srv.Egress().AddSource("bittorrent", func() int64 { return 7 })
	got := srv.Egress().Stats()
	if got.BlobBytes != want || got.ManifestBytes < int64(len(rawManifest)) || got.RangeGets != 1 || got.BlobGets != int64(len(layers))+2 || got.Sources["bittorrent"] != 7 {
		t.Fatalf("egress %+v, want %d blob bytes (%d layers, config, 100-byte range), >= %d manifest bytes, bittorrent 7", got, want, len(layers), len(rawManifest))
	}
	if got.Total() != got.BlobBytes+got.ManifestBytes+7 {
		t.Errorf("Total %d", got.Total())
	}
	resp, err = http.Get(srv.URL() + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		fmt.Sprintf(`undistro_origin_sent_bytes_total{kind="blob"} %d`, want),
		`undistro_origin_sent_bytes_total{kind="bittorrent"} 7`,
		`undistro_origin_blob_gets_total{range="true"} 1`,
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, b)
		}
	}
}

func TestFromLoopback(t *testing.T) {
	for _, tc := range []struct {
		remote string
		want   bool
	}{{"127.0.0.1:5", true}, {"[::1]:5", true}, {"127.9.9.9:1", true}, {"10.0.0.1:5", false}, {"[::ffff:127.0.0.1]:5", true}, {"garbage", false}} {
		if got := fromLoopback(&http.Request{RemoteAddr: tc.remote}); got != tc.want {
			t.Errorf("fromLoopback(%s) = %v, want %v", tc.remote, got, tc.want)
		}
	}
}

func TestWithP2PUploadRate(t *testing.T) {
	for _, tc := range []struct {
		rate int64
		err  string
	}{{0, ""}, {4 << 20, ""}, {-1, "p2p upload rate -1: want bytes per second >= 0"}} {
		var o options
		err := WithP2PUploadRate(tc.rate)(&o)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("WithP2PUploadRate(%d): %v, want %q", tc.rate, err, tc.err)
			}
			continue
		}
		if err != nil || o.p2pUp != tc.rate {
			t.Errorf("WithP2PUploadRate(%d): %v, p2pUp %d", tc.rate, err, o.p2pUp)
		}
	}
}
