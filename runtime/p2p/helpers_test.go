package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/internal/testsupport"
)

// testBlob is a deterministic blob and its torrent.
type testBlob struct {
	data   []byte
	digest string
	info   *btmeta.Info
}

func newBlob(t testing.TB, n int, seed uint32) testBlob {
	t.Helper()
	b, digest := testsupport.Blob(n, seed|1)
	in, err := btmeta.Compute(bytes.NewReader(b), digest, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	return testBlob{b, digest, in}
}

func (b testBlob) layer() Layer {
	return Layer{Digest: b.digest, Size: int64(len(b.data)), InfoHash: b.info.Hash()}
}

// testStore is a directory of blobs named by digest hex, standing in for
// runtime/store in this package's tests (the node's tests use the real
// one).
type testStore struct{ dir string }

func newStore(t testing.TB) testStore {
	d := filepath.Join(t.TempDir(), "blobs")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return testStore{d}
}

func (s testStore) path(digest string) string { return filepath.Join(s.dir, digest[len("sha256:"):]) }

// commit checks sha256 and moves the file in, as the store does.
func (s testStore) commit(digest string) Commit {
	return func(ctx context.Context, path string) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
			return "", fmt.Errorf("blob hashes to %s, want %s", got, digest)
		}
		dst := s.path(digest)
		if err := os.Rename(path, dst); err != nil {
			return "", err
		}
		return dst, atomicfile.SyncDir(s.dir)
	}
}

func (s testStore) put(t testing.TB, b testBlob) string {
	t.Helper()
	p := s.path(b.digest)
	if err := os.WriteFile(p, b.data, 0o444); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s testStore) check(t testing.TB, b testBlob) {
	t.Helper()
	got, err := os.ReadFile(s.path(b.digest))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.data) {
		t.Fatalf("stored blob %s differs from the original", b.digest)
	}
}

// newClient starts a client on ip:0 (each test node its own 127.0.0.x).
func newClient(t testing.TB, ip string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Listen: ip + ":0", PartialDir: filepath.Join(t.TempDir(), "partial")}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func seed(t testing.TB, c *Client, s testStore, b testBlob) {
	t.Helper()
	if err := c.Seed(t.Context(), Blob{Digest: b.digest, Size: int64(len(b.data)), InfoHash: b.info.Hash(), Path: s.put(t, b)}); err != nil {
		t.Fatal(err)
	}
}
