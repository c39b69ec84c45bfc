package store

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPullRootfs(t *testing.T) {
	fx := newFixture(t)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	for _, ti := range []testImage{imageA, imageB} {
		img, err := s.Pull(ctx, fx.ref(ti.Role))
		if err != nil {
			t.Fatal(err)
		}
		if img.Digest != fx.digests[ti.Role] || img.Meta.Role != ti.Role || len(img.Layers) != len(ti.Layers) {
			t.Fatalf("pulled %s: digest %s role %q layers %d", ti.Role, img.Digest, img.Meta.Role, len(img.Layers))
		}
		dir, err := s.Rootfs(ctx, img.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(ti.Role, func(t *testing.T) { diffTrees(t, listing(t, dir), expect(ti.Layers)) })
	}
	a, _ := s.Image(fx.digests["a"])
	b, _ := s.Image(fx.digests["b"])
	// The shared base layer is unpacked once and both roots link to it.
	h := strings.TrimPrefix(a.Layers[0], "sha256:")
	layerFile := filepath.Join(s.Root(), "layers", h, "usr/lib/libc.so")
	for _, img := range []string{a.Digest, b.Digest} {
		root := filepath.Join(s.Root(), "roots", strings.TrimPrefix(img, "sha256:"))
		if inode(t, filepath.Join(root, "usr/lib/libc.so")) != inode(t, layerFile) {
			t.Errorf("%s: usr/lib/libc.so is not a hardlink into the shared layer", img)
		}
	}
	if fi, err := os.Stat(layerFile); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("layer file %s is writable: %v %v", layerFile, fi.Mode(), err)
	}
	// Pulling again returns the same image and fetches nothing.
	calls := 0
	again, err := s.Pull(ctx, fx.ref("b"), WithProgress(func(done, total int64) { calls++ }))
	if err != nil || again.Digest != b.Digest || calls != 0 {
		t.Errorf("second pull: %v, %v, %d progress calls", again, err, calls)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Digest != b.Digest {
		t.Errorf("List = %v, %v; want B then A", list, err)
	}
	// Digests resolve by prefix.
	if img, err := s.Image(strings.TrimPrefix(b.Digest, "sha256:")[:12]); err != nil || img.Digest != b.Digest {
		t.Errorf("Image(prefix) = %v, %v", img, err)
	}
}

func TestPullRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := build(t, imageB)
	ref, err := name.ParseReference(host + "/undistro/b:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	tests := []struct{ name, ref string }{
		{name: "tag", ref: host + "/undistro/b:latest"},
		{name: "digest", ref: host + "/undistro/b@" + want.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			var done, total int64
			got, err := s.Pull(context.Background(), tc.ref, WithProgress(func(d, tot int64) { done, total = d, tot }))
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != want.String() || got.Ref != tc.ref {
				t.Errorf("pulled %s as %q, want %s", got.Digest, got.Ref, want)
			}
			if total == 0 || done != total {
				t.Errorf("progress ended at %d/%d", done, total)
			}
			dir, err := s.Rootfs(context.Background(), got.Digest)
			if err != nil {
				t.Fatal(err)
			}
			diffTrees(t, listing(t, dir), expect(imageB.Layers))
		})
	}
}

func TestSwitchRollback(t *testing.T) {
	fx := newFixture(t)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.Current(); !errors.Is(err, ErrNoCurrent) {
		t.Fatalf("Current on empty store: %v, want ErrNoCurrent", err)
	}
	if err := s.Rollback(ctx); !errors.Is(err, ErrNoPrevious) {
		t.Fatalf("Rollback on empty store: %v, want ErrNoPrevious", err)
	}
	if err := s.Switch(ctx, fx.digests["a"]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Switch to an image not pulled: %v, want ErrNotFound", err)
	}
	for _, r := range []string{"a", "b"} {
		if _, err := s.Pull(ctx, fx.ref(r)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := fx.digests["a"], fx.digests["b"]
	steps := []struct {
		name          string
		do            func() error
		current, prev string
	}{
		{name: "switch to A", do: func() error { return s.Switch(ctx, a) }, current: a},
		{name: "switch to A again changes nothing", do: func() error { return s.Switch(ctx, a) }, current: a},
		{name: "switch to B", do: func() error { return s.Switch(ctx, b) }, current: b, prev: a},
		{name: "rollback", do: func() error { return s.Rollback(ctx) }, current: a, prev: b},
		{name: "rollback again", do: func() error { return s.Rollback(ctx) }, current: b, prev: a},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		cur, err := s.Current()
		if err != nil || cur.Digest != st.current {
			t.Fatalf("%s: current %v %v, want %s", st.name, cur, err, st.current)
		}
		prev, err := s.Previous()
		switch {
		case st.prev == "" && !errors.Is(err, ErrNoPrevious):
			t.Fatalf("%s: previous %v %v, want ErrNoPrevious", st.name, prev, err)
		case st.prev != "" && (err != nil || prev.Digest != st.prev):
			t.Fatalf("%s: previous %v %v, want %s", st.name, prev, err, st.prev)
		}
		link, _ := os.Readlink(filepath.Join(s.Root(), "current"))
		if want := filepath.Join("roots", strings.TrimPrefix(st.current, "sha256:")); link != want {
			t.Fatalf("%s: current symlink %q, want %q", st.name, link, want)
		}
	}
}
