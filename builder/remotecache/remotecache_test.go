package remotecache

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// signers holds the test keys: generating (scrypt-encrypting) one takes
// seconds under the race detector, so each name is made once per run.
var signers sync.Map // name -> *testSigner

type testSigner struct {
	once sync.Once
	s    *sign.Signer
	pub  crypto.PublicKey
	err  error
}

func newSigner(t testing.TB, prefix string) (*sign.Signer, crypto.PublicKey) {
	t.Helper()
	v, _ := signers.LoadOrStore(prefix, &testSigner{})
	ts := v.(*testSigner)
	ts.once.Do(func() {
		dir, err := os.MkdirTemp("", "remotecache-key-")
		if err != nil {
			ts.err = err
			return
		}
		defer os.RemoveAll(dir)
		pass := func() ([]byte, error) { return []byte("test"), nil }
		key := filepath.Join(dir, prefix)
		if ts.err = sign.GenerateKey(context.Background(), key, pass); ts.err != nil {
			return
		}
		if ts.s, ts.err = sign.NewSigner(key+".key", pass); ts.err != nil {
			return
		}
		ts.pub, ts.err = ts.s.PublicKey()
	})
	if ts.err != nil {
		t.Fatal(ts.err)
	}
	return ts.s, ts.pub
}

// entry caches a one-file package under the key derived from content.
func entry(t *testing.T, content string) (*cache.Cache, *cache.Entry) {
	t.Helper()
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "usr/bin/hello"), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	key := cache.Key(cache.KeyParts{Recipe: []byte(content), Builder: "test"})
	e, err := c.Put(context.Background(), key, tree, cache.WithLayer(layer.Options{Epoch: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	repo := imagetest.Registry(t) + "/undistro"
	signerA, pubA := newSigner(t, "a")
	signerX, pubX := newSigner(t, "x")
	src, e := entry(t, "hello")
	a, err := New(repo, WithSigner(signerA), WithKeys(pubA))
	if err != nil {
		t.Fatal(err)
	}
	d1, err := a.Push(ctx, src, "hello", e)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := a.Push(ctx, src, "hello", e)
	if err != nil || d2 != d1 {
		t.Fatalf("pushing again: %s, %v; want the same digest %s", d2, err, d1)
	}
	// Pushing what the registry already has, signed by this signer,
	// writes nothing; another signer's push of it still signs.
	dBoth, err := a.Push(ctx, src, "both", e)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		signer     *sign.Signer
		pkg        string
		digest     string
		wantWrites bool
	}{{signerA, "hello", d1, false}, {signerX, "both", dBoth, true}} {
		w := &writeCounter{rt: http.DefaultTransport}
		s, err := New(repo, WithSigner(tc.signer), WithRemoteOptions(remote.WithTransport(w)))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := s.Push(ctx, src, tc.pkg, e); err != nil || d != tc.digest {
			t.Fatalf("pushing %s again: %s, %v; want %s", tc.pkg, d, err, tc.digest)
		}
		if got := w.writes.Load() > 0; got != tc.wantWrites {
			t.Errorf("pushing %s again: %d writes, want writes: %v", tc.pkg, w.writes.Load(), tc.wantWrites)
		}
	}
	tag, err := a.Ref("hello", e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := repo + "/cache/hello:" + strings.TrimPrefix(e.Key, "sha256:"); tag.String() != want {
		t.Errorf("Ref = %s, want %s", tag, want)
	}
	sigs, err := remote.Image(tag.Context().Tag(strings.Replace(d1, ":", "-", 1) + ".sig"))
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := sigs.Layers(); len(ls) != 1 {
		t.Errorf("three pushes left %d signatures, want 1", len(ls))
	}

	// A signed entry replayed under another build key's tag: the signature
	// verifies (same digest, same repository), the metadata does not match.
	_, other := entry(t, "other")
	otherTag, _ := a.Ref("hello", other.Key)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(otherTag, desc); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		opts    []Option
		key     string
		wantErr error
	}{
		{name: "trusted", opts: []Option{WithKeys(pubA)}, key: e.Key},
		{name: "one of several keys", opts: []Option{WithKeys(pubX, pubA)}, key: e.Key},
		{name: "missing", opts: []Option{WithKeys(pubA)}, key: cache.Key(cache.KeyParts{Builder: "nothing"}), wantErr: ErrNotFound},
		{name: "no keys", key: e.Key, wantErr: ErrUntrusted},
		{name: "other key", opts: []Option{WithKeys(pubX)}, key: e.Key, wantErr: ErrUntrusted},
		{name: "replayed under another key", opts: []Option{WithKeys(pubA)}, key: other.Key, wantErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(repo, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := cache.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Pull(ctx, dst, "hello", tc.key, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Pull error = %v, want %v", err, tc.wantErr)
				}
				if _, ok, _ := dst.Get(tc.key); ok {
					t.Error("a refused entry was cached")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Layer, e.Layer) {
				t.Errorf("pulled %+v, pushed %+v", got.Layer, e.Layer)
			}
			want, _ := os.ReadFile(src.LayerPath(e))
			have, _ := os.ReadFile(dst.LayerPath(got))
			if !bytes.Equal(want, have) {
				t.Error("pulled layer blob differs from the pushed one")
			}
		})
	}

	// Unsigned: the same manifest under another package's repository has
	// no signature there (it is looked up beside the entry).
	u, err := New(repo, WithKeys(pubA))
	if err != nil {
		t.Fatal(err)
	}
	unsignedTag, _ := u.Ref("unsigned", e.Key)
	if err := remote.Put(unsignedTag, desc); err != nil {
		t.Fatal(err)
	}
	dst, _ := cache.Open(t.TempDir())
	if _, err := u.Pull(ctx, dst, "unsigned", e.Key, nil); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("unsigned entry: %v, want ErrUntrusted", err)
	}
	// An entry X pushed and signed is not taken by a store trusting A.
	x, _ := New(repo, WithSigner(signerX), WithKeys(pubA))
	if _, err := x.Push(ctx, src, "byx", e); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Pull(ctx, dst, "byx", e.Key, nil); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("entry signed by X, trusting A: %v, want ErrUntrusted", err)
	}
}

func TestNewAndRefErrors(t *testing.T) {
	for _, tc := range []struct {
		name, repo, pkg, key, wantErr string
	}{
		{name: "bad repo", repo: "Not A Repo", wantErr: "is not REGISTRY/PREFIX"},
		{name: "bad key", repo: "127.0.0.1:1/u", pkg: "p", key: "sha256:XYZ", wantErr: "not sha256:<64 hex digits>"},
		{name: "bad package", repo: "127.0.0.1:1/u", pkg: "Bad Name", key: cache.Key(cache.KeyParts{}), wantErr: "cannot be a repository name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.repo)
			if err == nil {
				_, err = s.Ref(tc.pkg, tc.key)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := New("127.0.0.1:1/u", WithSigner(nil)); err == nil {
		t.Error("WithSigner(nil) accepted")
	}
	if _, err := New("127.0.0.1:1/u", WithKeys(nil)); err == nil {
		t.Error("WithKeys(nil) accepted")
	}
}

// BenchmarkPull measures taking a package from the registry cache (an
// in-process registry on loopback): lookup, signature check, blob
// download, digest checks and unpacking, for a package of 300 files and
// 8 MiB. Compare with building the package from source.
//
//	go test -run '^$' -bench Pull ./builder/remotecache
func BenchmarkPull(b *testing.B) {
	ctx := context.Background()
	signer, pub := newSigner(b, "a")
	src, err := cache.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	tree := filepath.Join(b.TempDir(), "tree")
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16/300)
	for i := range 300 {
		p := filepath.Join(tree, fmt.Sprintf("usr/share/pkg/d%02d/f%03d", i%30, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, append([]byte(p), chunk...), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	e, err := src.Put(ctx, cache.Key(cache.KeyParts{Builder: "bench"}), tree)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(imagetest.Registry(b)+"/undistro", WithSigner(signer), WithKeys(pub))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Push(ctx, src, "pkg", e); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(e.Layer.UncompressedSize)
	b.ReportAllocs()
	for b.Loop() {
		dst, err := cache.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pull(ctx, dst, "pkg", e.Key, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// writeCounter counts the requests that are not reads.
type writeCounter struct {
	rt     http.RoundTripper
	writes atomic.Int64
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.writes.Add(1)
	}
	return w.rt.RoundTrip(r)
}
