package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
)

// GC removes every image but the current, the previous and the keep newest
// others, then every root, layer and blob no remaining image uses, and
// the partial downloads of interrupted pulls. It
// returns the digests of the images it removed. A crash in the middle
// leaves only unreferenced leftovers, which the next GC removes.
func (s *Store) GC(ctx context.Context, keep int) ([]string, error) {
	if keep < 0 {
		return nil, fmt.Errorf("gc: keep %d: want 0 or more images besides current and previous", keep)
	}
	unlock, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	if err := s.begin(journal{Op: "gc"}); err != nil {
		return nil, err
	}
	blobs, layers, roots := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var removed []string
	kept := 0
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		h, _ := hexOf(r.Digest)
		if r.Digest == st.Current || r.Digest == st.Previous || kept < keep {
			if r.Digest != st.Current && r.Digest != st.Previous {
				kept++
			}
			roots[h] = true
			for _, d := range append([]string{r.Digest, r.ConfigDigest}, r.Blobs...) {
				bh, _ := hexOf(d)
				blobs[bh] = true
			}
			for _, d := range r.Layers {
				lh, _ := hexOf(d)
				layers[lh] = true
			}
			continue
		}
		crash.Point("gc.image")
		if err := os.Remove(s.path("images", h+".json")); err != nil {
			return removed, fmt.Errorf("removing image %s: %w", r.Digest, err)
		}
		removed = append(removed, r.Digest)
	}
	if err := syncDir(s.path("images"), "gc.images"); err != nil {
		return removed, err
	}
	if err := s.prune("roots", roots, false); err != nil {
		return removed, err
	}
	if err := s.prune("layers", layers, true); err != nil {
		return removed, err
	}
	if err := s.prune("blobs/sha256", blobs, false); err != nil {
		return removed, err
	}
	// Downloads an interrupted pull left for resuming (PartialDir).
	if err := s.prune("partial", nil, false); err != nil {
		return removed, err
	}
	return removed, s.end()
}

// prune removes every entry of dir (and, with stats, its HEX.json) whose
// hex name is not in keep.
func (s *Store) prune(dir string, keep map[string]bool, stats bool) error {
	ents, err := os.ReadDir(s.path(dir))
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if atomicfile.IsTemp(name) || strings.HasSuffix(name, ".json") || keep[name] {
			continue
		}
		if err := removeTree(s.path(dir, name), "gc."+dir); err != nil {
			return err
		}
		if stats {
			crash.Point("gc.stats")
			if err := os.Remove(s.path(dir, name+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing %s stats: %w", name, err)
			}
		}
	}
	if stats { // stats files whose layer is gone
		for _, e := range ents {
			if h, ok := strings.CutSuffix(e.Name(), ".json"); ok && !keep[h] {
				if _, err := os.Lstat(s.path(dir, h)); errors.Is(err, fs.ErrNotExist) {
					_ = os.Remove(s.path(dir, e.Name()))
				}
			}
		}
	}
	return syncDir(s.path(dir), "gc."+dir)
}
