package remotecache

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/ci/origin"
)

// TestOrigin pushes and pulls through undistro's own registry (CNCF
// distribution, `undistro serve`), which checks manifests more strictly
// than the in-memory one.
func TestOrigin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := origin.New(ctx, t.TempDir(), origin.WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	signer, pub := newSigner(t, "a")
	src, e := entry(t, "hello")
	s, err := New(srv.Addr().String()+"/undistro", WithSigner(signer), WithKeys(pub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(ctx, src, "hello", e); err != nil {
		t.Fatal(err)
	}
	dst, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(ctx, dst, "hello", e.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src.LayerPath(e))
	have, _ := os.ReadFile(dst.LayerPath(got))
	if !bytes.Equal(want, have) || !strings.HasPrefix(got.Layer.Digest, "sha256:") {
		t.Fatal("the layer pulled through the origin registry differs from the one pushed")
	}
}
