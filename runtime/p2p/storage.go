package p2p

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// blobFile is the one file a torrent's data lives in: a partial download
// (read-write) or, once committed or when seeding, the store's blob
// (read-only). Pieces are marked complete only after anacrolix (or the
// resume check) hashed them.
type blobFile struct {
	mu       sync.RWMutex
	f        *os.File
	src      io.ReadSeekCloser // instead of f: a blob read through Seek (origin storage)
	srcMu    sync.Mutex        // serialises Seek+Read on src
	path     string
	readOnly bool
	pieceLen int64
	length   int64
	complete []bool
	nDone    int
	changed  chan struct{} // closed at the next change of a piece's state
}

var errReadOnly = errors.New("writing to a stored blob")

func (b *blobFile) readAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.src != nil {
		if ra, ok := b.src.(io.ReaderAt); ok {
			return ra.ReadAt(p, off)
		}
		b.srcMu.Lock()
		defer b.srcMu.Unlock()
		if _, err := b.src.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		return io.ReadFull(b.src, p)
	}
	if b.f == nil {
		return 0, os.ErrClosed
	}
	return b.f.ReadAt(p, off)
}

// setSource makes the torrent read from r (read-only).
func (b *blobFile) setSource(r io.ReadSeekCloser) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := r.(*os.File); ok {
		b.f = f
		return
	}
	b.src = r
}

func (b *blobFile) writeAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.f == nil {
		return 0, os.ErrClosed
	}
	if b.readOnly {
		return 0, errReadOnly
	}
	if off < 0 || off+int64(len(p)) > b.length {
		return 0, fmt.Errorf("write at %d+%d past the blob's %d bytes", off, len(p), b.length)
	}
	return b.f.WriteAt(p, off)
}

func (b *blobFile) setComplete(i int, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i < 0 || i >= len(b.complete) || b.complete[i] == done {
		return
	}
	b.complete[i] = done
	if done {
		b.nDone++
	} else {
		b.nDone--
	}
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// pieceChanged returns a channel closed when a piece is next marked
// complete or incomplete: what a download waits on.
func (b *blobFile) pieceChanged() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

func (b *blobFile) isComplete(i int) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return i >= 0 && i < len(b.complete) && b.complete[i]
}

func (b *blobFile) isReadOnly() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.readOnly
}

// allDone reports whether every piece has been verified.
func (b *blobFile) allDone() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.nDone == len(b.complete)
}

// checkPieces marks the pieces already in the file whose SHA-1 matches:
// how a download resumes, and how a seeded blob is known complete.
func (b *blobFile) checkPieces(ctx context.Context, pieces []byte) error {
	n := len(pieces) / sha1.Size
	b.mu.Lock()
	b.complete = make([]bool, n)
	b.nDone = 0
	b.mu.Unlock()
	buf := make([]byte, b.pieceLen)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := int64(i) * b.pieceLen
		l := min(b.pieceLen, b.length-off)
		k, err := b.readAt(buf[:l], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("checking pieces of %s: %w", b.path, err)
		}
		if int64(k) != l {
			continue
		}
		sum := sha1.Sum(buf[:l])
		if bytes.Equal(sum[:], pieces[i*sha1.Size:(i+1)*sha1.Size]) {
			b.setComplete(i, true)
		}
	}
	return nil
}

// swap makes the torrent read from the store's file at path from now on.
func (b *blobFile) swap(f *os.File, path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f != nil {
		b.f.Close()
	}
	b.f, b.path, b.readOnly = f, path, true
}

func (b *blobFile) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if b.src != nil {
		err = b.src.Close()
		b.src = nil
	}
	if b.f != nil {
		err = errors.Join(err, b.f.Close())
		b.f = nil
	}
	return err
}

// blobStorage is the anacrolix storage of a Client: every torrent's data
// is the blobFile registered for its infohash before the torrent is added.
type blobStorage struct {
	c *Client
}

var _ storage.ClientImpl = blobStorage{}

func (s blobStorage) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	bf := s.c.fileOf(ih)
	if bf == nil {
		return storage.TorrentImpl{}, fmt.Errorf("no blob registered for torrent %s", ih)
	}
	if info.Length != bf.length || info.PieceLength != bf.pieceLen {
		return storage.TorrentImpl{}, fmt.Errorf("torrent %s: info says %d bytes in pieces of %d, want %d in %d", ih, info.Length, info.PieceLength, bf.length, bf.pieceLen)
	}
	if bf.complete == nil {
		if err := bf.checkPieces(ctx, info.Pieces); err != nil {
			return storage.TorrentImpl{}, err
		}
	}
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl { return piece{bf, p.Index(), p.Offset()} },
		Close: func() error { return nil }, // the Client closes the file
	}, nil
}

type piece struct {
	bf    *blobFile
	index int
	off   int64
}

func (p piece) ReadAt(b []byte, off int64) (int, error)  { return p.bf.readAt(b, p.off+off) }
func (p piece) WriteAt(b []byte, off int64) (int, error) { return p.bf.writeAt(b, p.off+off) }
func (p piece) MarkComplete() error                      { p.bf.setComplete(p.index, true); return nil }
func (p piece) MarkNotComplete() error {
	if p.bf.isReadOnly() {
		return nil // a stored blob was sha256-checked whole; nothing to redo
	}
	p.bf.setComplete(p.index, false)
	return nil
}
func (p piece) Completion() storage.Completion {
	return storage.Completion{Ok: true, Complete: p.bf.isComplete(p.index)}
}

func (b *blobFile) sync() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.f == nil {
		return os.ErrClosed
	}
	return b.f.Sync()
}
