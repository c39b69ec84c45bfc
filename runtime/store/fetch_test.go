package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layoutFetcher fetches layers by copying them from the OCI layout, or
// corrupts them, to exercise the LayerFetcher hook.
func layoutFetcher(t *testing.T, s *Store, layout string, corrupt bool, calls *int) LayerFetcher {
	return func(ctx context.Context, src *Source, desc v1.Descriptor, adopt Adopt) error {
		*calls++
		b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", desc.Digest.Hex))
		if err != nil {
			t.Fatal(err)
		}
		if corrupt {
			b[len(b)-1] ^= 1
		}
		p := filepath.Join(s.PartialDir(), desc.Digest.Hex)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		stored, err := adopt(ctx, desc, p)
		if err == nil && stored != filepath.Join(s.Root(), "blobs", "sha256", desc.Digest.Hex) {
			t.Errorf("adopted as %s", stored)
		}
		return err
	}
}

func TestLayerFetcher(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()

	t.Run("fetches every layer", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		calls := 0
		img, err := s.Pull(ctx, fx.ref("a"), WithLayerFetcher(layoutFetcher(t, s, fx.layout, false, &calls)))
		if err != nil {
			t.Fatal(err)
		}
		if calls != len(img.Blobs) {
			t.Errorf("fetcher called %d times for %d layers", calls, len(img.Blobs))
		}
		for _, b := range img.Blobs {
			p, err := s.BlobPath(b)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o444 {
				t.Errorf("stored blob %s: %v %v", b, fi.Mode(), err)
			}
		}
		if _, err := s.Manifest(img.Digest); err != nil {
			t.Error(err)
		}
	})

	t.Run("corrupt blob fails the pull and leaves nothing", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		calls := 0
		_, err := s.Pull(ctx, fx.ref("a"), WithLayerFetcher(layoutFetcher(t, s, fx.layout, true, &calls)))
		if err == nil || !strings.Contains(err.Error(), "content hashes to") {
			t.Fatalf("pull with a corrupt layer: %v", err)
		}
		if list, _ := s.List(); len(list) != 0 {
			t.Errorf("store lists %d images after a failed pull", len(list))
		}
		if ents, _ := os.ReadDir(s.PartialDir()); len(ents) != 0 {
			t.Errorf("partial area keeps %d files", len(ents))
		}
		// Only the config (verified, content-addressed) may have entered.
		if blobs, _ := os.ReadDir(filepath.Join(s.Root(), "blobs", "sha256")); len(blobs) > 1 {
			t.Errorf("%d blobs entered the store", len(blobs))
		}
	})

	t.Run("declined layers come from the source", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		decline := func(context.Context, *Source, v1.Descriptor, Adopt) error { return ErrNotFetched }
		if _, err := s.Pull(ctx, fx.ref("b"), WithLayerFetcher(decline)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("adopt refuses a path outside the partial area", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		outside := filepath.Join(t.TempDir(), "x")
		if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		bad := func(ctx context.Context, _ *Source, desc v1.Descriptor, adopt Adopt) error {
			_, err := adopt(ctx, desc, outside)
			return err
		}
		_, err := s.Pull(ctx, fx.ref("b"), WithLayerFetcher(bad))
		if err == nil || !strings.Contains(err.Error(), "is not in") {
			t.Fatalf("adopting from outside: %v", err)
		}
	})
}

func TestAdoptRefusesForeignLayer(t *testing.T) {
	fx := newFixture(t)
	s := openStore(t, t.TempDir())
	foreign := func(ctx context.Context, _ *Source, desc v1.Descriptor, adopt Adopt) error {
		desc.Size++ // not a descriptor of this image
		p := filepath.Join(s.PartialDir(), "x")
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := adopt(ctx, desc, p)
		return err
	}
	_, err := s.Pull(context.Background(), fx.ref("b"), WithLayerFetcher(foreign))
	if err == nil || !strings.Contains(err.Error(), "not a layer of") {
		t.Fatalf("adopting a foreign layer: %v", err)
	}
}

func TestGCRemovesPartialDownloads(t *testing.T) {
	s := openStore(t, t.TempDir())
	p := filepath.Join(s.PartialDir(), strings.Repeat("a", 64))
	if err := os.WriteFile(p, []byte("half a blob"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("partial download survives gc: %v", err)
	}
}
