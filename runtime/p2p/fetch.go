package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/time/rate"

	"github.com/un-distro/undistro/internal/btmeta"
)

// Errors callers branch on.
var (
	// ErrFetching: the same blob is already being fetched.
	ErrFetching = errors.New("blob is already being fetched")
	// ErrNoSource: no web seed, no peers and no trackers to find any.
	ErrNoSource = errors.New("no web seed and no peers or trackers to fetch from: give --peers or --trackers")
)

// Layer names a blob to fetch, as a verified manifest describes it.
type Layer struct {
	// Digest is "sha256:<hex>"; Size its size in bytes.
	Digest string
	Size   int64
	// InfoHash is the descriptor's btmeta.Annotation.
	InfoHash btmeta.InfoHash
	// WebSeed is the blob's URL at the origin (a registry's
	// /v2/REPO/blobs/DIGEST). Empty: peers only.
	WebSeed string
	// Transport carries requests to WebSeed's host (registry
	// credentials). Nil: Config.OriginTransport.
	Transport http.RoundTripper
	// Info is the info dictionary when the caller has it (it is checked);
	// nil: it comes from peers, or from WebSeed when none gives it in time.
	Info []byte
}

// Commit moves the finished blob at path (in PartialDir, every piece
// verified) into the store, checking its sha256, and returns the store's
// path of it, from which the client seeds it from then on.
type Commit func(ctx context.Context, path string) (stored string, err error)

// Fetch downloads l from the fleet into PartialDir, hands it to commit, and
// seeds it. progress, if not nil, is called about four times a second with
// the layer's state. A download interrupted (ctx cancelled, process killed)
// resumes from the verified pieces in PartialDir at the next Fetch; one
// that fails verification or commit leaves nothing behind.
func (c *Client) Fetch(ctx context.Context, l Layer, commit Commit, progress func(LayerStats)) error {
	hexd, ok := strings.CutPrefix(l.Digest, "sha256:")
	if !ok || len(hexd) != 64 || strings.Trim(hexd, "0123456789abcdef") != "" {
		return fmt.Errorf("fetching %q: not a sha256 digest", l.Digest)
	}
	if l.Size <= 0 {
		return fmt.Errorf("fetching %s: size %d: only non-empty blobs have a torrent", l.Digest, l.Size)
	}
	if l.WebSeed == "" && len(c.cfg.Peers) == 0 && len(c.cfg.Trackers) == 0 {
		return fmt.Errorf("fetching %s: %w", l.Digest, ErrNoSource)
	}
	if l.WebSeed != "" {
		u, err := url.Parse(l.WebSeed)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("fetching %s: web seed %q is not an http(s) URL", l.Digest, l.WebSeed)
		}
		c.origin.route(u.Host, l.Transport)
	}
	ih := metainfo.Hash(l.InfoHash)
	var infoBytes []byte
	if l.Info != nil {
		in, err := btmeta.Decode(l.Info)
		if err == nil {
			err = in.Check(l.Digest, l.Size)
		}
		if err == nil && in.Hash() != l.InfoHash {
			err = fmt.Errorf("it hashes to %s, not %s: %w", in.Hash(), l.InfoHash, btmeta.ErrMismatch)
		}
		if err != nil {
			return fmt.Errorf("fetching %s: the given info dictionary: %w", l.Digest, err)
		}
		infoBytes = l.Info
	}

	c.mu.Lock()
	if old, held := c.entries[ih]; held {
		c.mu.Unlock()
		if old.seeding {
			return nil // already stored and seeded
		}
		return fmt.Errorf("fetching %s: %w", l.Digest, ErrFetching)
	}
	c.mu.Unlock()
	partial := filepath.Join(c.cfg.PartialDir, hexd)
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", l.Digest, err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != l.Size {
		if err == nil {
			err = f.Truncate(l.Size)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("fetching %s: sizing %s: %w", l.Digest, partial, err)
		}
	}
	pl := btmeta.PieceLength(l.Size)
	bf := &blobFile{f: f, path: partial, pieceLen: pl, length: l.Size}
	e := &entry{digest: l.Digest, size: l.Size, bf: bf}
	c.mu.Lock()
	if old, held := c.entries[ih]; held {
		c.mu.Unlock()
		f.Close()
		if old.seeding {
			return nil // already stored and seeded
		}
		return fmt.Errorf("fetching %s: %w", l.Digest, ErrFetching)
	}
	c.entries[ih] = e
	c.mu.Unlock()

	ok = false
	defer func() {
		if !ok {
			c.drop(ih)
		}
	}()
	t, _ := c.cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, Storage: blobStorage{c}, InfoBytes: infoBytes})
	c.mu.Lock()
	e.t = t
	c.mu.Unlock()
	c.join(t)
	if err := c.download(ctx, l, e, progress); err != nil {
		if errors.Is(err, btmeta.ErrMismatch) {
			os.Remove(partial) // nothing partial of a lying source is kept
		}
		return fmt.Errorf("fetching %s: %w", l.Digest, err)
	}
	if err := bf.sync(); err != nil {
		return fmt.Errorf("fetching %s: %w", l.Digest, err)
	}
	stored, err := commit(ctx, partial)
	if err != nil {
		os.Remove(partial)
		return fmt.Errorf("fetching %s: storing it: %w", l.Digest, err)
	}
	sf, err := os.Open(stored)
	if err != nil {
		return fmt.Errorf("fetching %s: reopening the stored blob: %w", l.Digest, err)
	}
	bf.swap(sf, stored)
	c.mu.Lock()
	e.seeding = true
	c.mu.Unlock()
	ok = true
	if progress != nil {
		progress(c.layerStats(ih, e))
	}
	return nil
}

// rejoinEvery is how often a download with no peer connection asks the
// bootstrap peers and trackers again: a retry, as anacrolix does not
// redial a dropped bootstrap connection by itself.
const rejoinEvery = 2 * time.Second

// download runs the torrent until every piece is verified. It wakes on
// events only: a piece verified (or failed), the info dictionary, the
// origin fallback's end, and two timers: the web-seed delay (armed again
// while peers keep sending) and the rejoin retry.
func (c *Client) download(ctx context.Context, l Layer, e *entry, progress func(LayerStats)) error {
	t := e.t
	peerBytes := func() int64 { st := t.Stats(); return st.PeerConns.BytesReadUsefulData.Int64() }
	lastPeerBytes := peerBytes()
	stall := time.NewTimer(c.cfg.WebSeedDelay)
	defer stall.Stop()
	rejoin := time.NewTimer(rejoinEvery)
	defer rejoin.Stop()
	stalled, webSeeded := false, false
	var fallback chan error
	downloading := false
	gotInfo := t.GotInfo()
	pieces := e.bf.pieceChanged()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fallback:
			if err != nil {
				return err
			}
			fallback = nil
		case <-gotInfo:
			gotInfo = nil // ready from now on: stop selecting it
			if err := c.checkInfo(t, l); err != nil {
				return err
			}
			t.DownloadAll()
			downloading = true
		case <-pieces:
			pieces = e.bf.pieceChanged()
		case <-rejoin.C:
			if len(t.PeerConns()) == 0 {
				c.join(t)
			}
			rejoin.Reset(rejoinEvery)
		case <-stall.C:
			// Peers that sent something within the delay get another one.
			if n := peerBytes(); n > lastPeerBytes {
				lastPeerBytes = n
				stall.Reset(c.cfg.WebSeedDelay)
			} else {
				stalled = true
			}
		}
		if downloading && e.bf.allDone() {
			return nil
		}
		switch {
		case l.WebSeed == "" || !stalled || webSeeded:
		case downloading:
			// Peers gave nothing for a while: let the origin fill in.
			var opts []torrent.AddWebSeedsOpt
			if c.down != nil {
				opts = append(opts, torrent.WebSeedResponseBodyRateLimiter(c.down))
			}
			t.AddWebSeeds([]string{l.WebSeed}, opts...)
			webSeeded = true
		case fallback == nil:
			// No peer even had the info dictionary: read the blob from the
			// origin, compute its torrent and check it against the signed
			// infohash.
			fallback = make(chan error, 1)
			webSeeded = true
			go func() { fallback <- c.fillFromOrigin(ctx, l, e) }()
		}
		if progress != nil {
			progress(c.layerStats(t.InfoHash(), e))
		}
	}
}

// checkInfo checks the info dictionary a peer gave against the layer.
func (c *Client) checkInfo(t *torrent.Torrent, l Layer) error {
	mi := t.Metainfo()
	in, err := btmeta.Decode(mi.InfoBytes)
	if err == nil {
		err = in.Check(l.Digest, l.Size)
	}
	if err != nil {
		return fmt.Errorf("the swarm's info dictionary: %w", err)
	}
	return nil
}

// fillFromOrigin reads the whole blob from l.WebSeed into the partial file,
// computing its torrent on the way; a blob whose torrent is not the signed
// one is refused. Then the torrent gets its info and every piece checks.
func (c *Client) fillFromOrigin(ctx context.Context, l Layer, e *entry) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.WebSeed, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reading it from the origin: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading it from the origin %s: %s", req.URL.Host, resp.Status)
	}
	var body io.Reader = resp.Body
	if c.down != nil {
		body = &limitedReader{ctx: ctx, r: body, l: c.down}
	}
	w := &fileWriter{bf: e.bf}
	in, err := btmeta.Compute(io.TeeReader(body, w), l.Digest, l.Size)
	c.mu.Lock()
	e.fallback += w.off
	c.mu.Unlock()
	if err == nil && w.err != nil {
		err = w.err
	}
	if err != nil {
		return fmt.Errorf("reading it from the origin %s: %w", req.URL.Host, err)
	}
	if in.Hash() != l.InfoHash {
		return fmt.Errorf("the origin's copy has infohash %s, the manifest says %s: %w", in.Hash(), l.InfoHash, btmeta.ErrMismatch)
	}
	if err := e.t.SetInfoBytes(in.Bencode()); err != nil {
		return fmt.Errorf("reading it from the origin: %w", err)
	}
	// The torrent may have had its info (and its completion state) before
	// the origin's bytes were all written: check them again.
	if !e.bf.allDone() {
		if err := e.bf.checkPieces(ctx, in.Pieces); err != nil {
			return err
		}
		for i := range in.NumPieces() {
			e.t.Piece(i).UpdateCompletion()
		}
	}
	return nil
}

type fileWriter struct {
	bf  *blobFile
	off int64
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bf.writeAt(p, w.off)
	w.off += int64(n)
	w.err = err
	return n, err
}

// limitedReader reads at most at l's rate (--p2p-down covers the origin
// fallback too).
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if b := l.l.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.l.WaitN(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
