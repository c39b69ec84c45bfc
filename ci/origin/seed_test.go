package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/p2p"
)

// TestSeedsPushedLayers: an origin with WithP2P seeds the annotated layer
// of an image pushed to it, and a client that knows only its tracker
// fetches the layer from the origin's BitTorrent side, not its registry.
func TestSeedsPushedLayers(t *testing.T) {
	srv, _ := start(t, t.TempDir(), WithP2P("127.0.0.71:0", nil))
	layer, err := random.Layer(700<<10, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	ld, _ := layer.Digest()
	size, _ := layer.Size()
	rc, _ := layer.Compressed()
	blob, _ := io.ReadAll(rc)
	in, err := btmeta.Compute(bytes.NewReader(blob), ld.String(), size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mutate.Addendum{Layer: layer, Annotations: map[string]string{btmeta.Annotation: in.Hash().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host(srv)+"/undistro/web:1"), img); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 20*time.Second, "the origin to seed the pushed layer", func() bool {
		return srv.P2P().Seeding(in.Hash())
	})

	c, err := p2p.New(logCtx(t.Context()), p2p.Config{Listen: "127.0.0.72:0", Trackers: []string{srv.URL() + AnnouncePath},
		PartialDir: filepath.Join(t.TempDir(), "partial")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := filepath.Join(t.TempDir(), "blob")
	commit := func(ctx context.Context, path string) (string, error) { return dst, os.Rename(path, dst) }
	if err := c.Fetch(logCtx(t.Context()), p2p.Layer{Digest: ld.String(), Size: size, InfoHash: in.Hash()}, commit, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if sum := sha256.Sum256(got); "sha256:"+hex.EncodeToString(sum[:]) != ld.String() {
		t.Fatal("fetched blob differs")
	}
	if up := srv.P2P().Uploaded(); up < size {
		t.Errorf("origin uploaded %d bytes over BitTorrent, want the layer's %d", up, size)
	}
}
