package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
	"github.com/un-distro/undistro/internal/logctx"
)

// state is state.json: the pointers a node runs from. One file, so both
// pointers change in one rename.
type state struct {
	Current  string `json:"current,omitempty"`
	Previous string `json:"previous,omitempty"`
}

// journal is journal.json: the operation in flight.
type journal struct {
	Op      string    `json:"op"` // pull, rootfs, switch, rollback, gc
	Target  string    `json:"target,omitempty"`
	State   *state    `json:"state,omitempty"` // switch/rollback: the state being written
	Started time.Time `json:"started"`
}

func (s *Store) readState() (state, error) {
	var st state
	b, err := os.ReadFile(s.path("state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decoding %s: %w", s.path("state.json"), err)
	}
	return st, nil
}

func (s *Store) writeState(st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFile(s.path("state.json"), b, "state")
}

func (s *Store) begin(j journal) error {
	j.Started = time.Now().UTC()
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return writeFile(s.path("journal.json"), b, "journal")
}

func (s *Store) end() error {
	crash.Point("journal.remove")
	if err := os.Remove(s.path("journal.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing journal: %w", err)
	}
	return syncDir(s.root, "journal")
}

// recover runs under the lock in Open: finish a switch the journal says was
// in flight if its root is complete (else undo it), drop temporary
// leftovers of everything else, and make the symlinks match state.json.
func (s *Store) recover(ctx context.Context) error {
	b, err := os.ReadFile(s.path("journal.json"))
	hadJournal := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading journal: %w", err)
	default:
		var j journal
		if err := json.Unmarshal(b, &j); err == nil && j.State != nil && s.complete(j.State.Current) {
			cur, err := s.readState()
			if err != nil {
				return err
			}
			if cur != *j.State {
				if err := s.writeState(*j.State); err != nil {
					return err
				}
			}
		}
	}
	for _, d := range []string{s.root, s.path("blobs", "sha256"), s.path("layers"), s.path("images"), s.path("roots")} {
		if err := sweep(d); err != nil {
			return err
		}
	}
	st, err := s.readState()
	if err != nil {
		return err
	}
	if err := s.links(st); err != nil {
		return err
	}
	if st.Current != "" && !s.complete(st.Current) {
		// A switch that derives the new root consumes the old one: a
		// crash before the new state is written leaves the current
		// image without a root. Assemble it again.
		if _, err := s.rootfs(ctx, st.Current); err != nil {
			// Not fatal: status and rollback still work, and Rootfs
			// tries again when the root is needed.
			logctx.From(ctx).Warn("assembling the root of the current image again", "image", st.Current, "err", err)
		}
		hadJournal = true // end whatever journal rootfs left
	}
	if hadJournal {
		return s.end()
	}
	return nil
}

// complete reports whether digest names an image with a record and an
// assembled root.
func (s *Store) complete(digest string) bool {
	h, err := hexOf(digest)
	if err != nil {
		return false
	}
	if _, err := os.Stat(s.path("images", h+".json")); err != nil {
		return false
	}
	fi, err := os.Stat(s.path("roots", h))
	return err == nil && fi.IsDir()
}

// links points the current and previous symlinks at the roots of st.
func (s *Store) links(st state) error {
	for _, l := range []struct{ name, digest string }{{"current", st.Current}, {"previous", st.Previous}} {
		p := s.path(l.name)
		want := ""
		if h, err := hexOf(l.digest); err == nil {
			want = filepath.Join("roots", h)
		}
		have, err := os.Readlink(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if have == want && (want != "" || err != nil) {
			continue
		}
		if want == "" {
			crash.Point("link.remove")
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing %s: %w", p, err)
			}
			continue
		}
		if err := atomicfile.Symlink(want, p, atomicfile.Step("link")); err != nil {
			return err
		}
	}
	return syncDir(s.root, "link")
}

// Switch makes digest the current image and the current one the previous:
// it assembles the image's root first if needed, then replaces state.json in
// one rename. Switching to the current image changes nothing.
func (s *Store) Switch(ctx context.Context, digest string) error {
	_, err := s.SwitchFrom(ctx, digest)
	return err
}

// SwitchFrom is Switch that also returns the digest that was current when
// the switch happened under the store's lock ("" for none): with several
// processes switching at once, only this tells what each switched from.
func (s *Store) SwitchFrom(ctx context.Context, digest string) (string, error) {
	r, err := s.SwitchReport(ctx, digest)
	return r.From, err
}

// Switched says what a switch did.
type Switched struct {
	// From is the digest that was current when the switch happened under
	// the store's lock ("" for none).
	From string `json:"from,omitempty"`
	// Derived is set when the new root was derived from the current one
	// in place; Written then counts the entries it linked, created or
	// removed (a full assembly writes every entry of the image).
	Derived bool `json:"derived"`
	Written int  `json:"written"`
}

// SwitchReport is SwitchFrom that also says how the new root was made.
func (s *Store) SwitchReport(ctx context.Context, digest string) (Switched, error) {
	unlock, err := s.acquire(ctx)
	if err != nil {
		return Switched{}, err
	}
	defer unlock()
	d, err := s.resolve(digest)
	if err != nil {
		return Switched{}, fmt.Errorf("switching to %s: %w", digest, err)
	}
	st, err := s.readState()
	if err != nil {
		return Switched{}, err
	}
	r, err := s.rootFrom(ctx, st.Current, d)
	if err != nil {
		return r, fmt.Errorf("switching to %s: %w", d, err)
	}
	r.From = st.Current
	if st.Current == d {
		return r, nil
	}
	return r, s.flip("switch", state{Current: d, Previous: st.Current})
}

// rootFrom makes sure digest has a root, deriving it from the root of
// from (which it consumes: from is becoming the previous image) when it
// can, else assembling it in full.
func (s *Store) rootFrom(ctx context.Context, from, digest string) (Switched, error) {
	var r Switched
	if !s.complete(digest) && from != "" && from != digest && s.derives {
		st, ok, err := s.derive(ctx, from, digest)
		if err != nil {
			logctx.From(ctx).Warn("deriving the root failed, assembling it in full", "image", digest, "err", err)
		}
		r.Derived, r.Written = ok, st.Written
	}
	_, err := s.rootfs(ctx, digest)
	return r, err
}

// Rollback swaps the current and previous images. The error matches
// ErrNoPrevious when there is no previous image.
func (s *Store) Rollback(ctx context.Context) error {
	unlock, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.readState()
	if err != nil {
		return err
	}
	if st.Previous == "" {
		return ErrNoPrevious
	}
	if _, err := s.rootFrom(ctx, st.Current, st.Previous); err != nil {
		return fmt.Errorf("rolling back to %s: %w", st.Previous, err)
	}
	return s.flip("rollback", state{Current: st.Previous, Previous: st.Current})
}

func (s *Store) flip(op string, next state) error {
	if err := s.begin(journal{Op: op, Target: next.Current, State: &next}); err != nil {
		return fmt.Errorf("%s to %s: %w", op, next.Current, err)
	}
	if err := s.writeState(next); err != nil {
		_ = s.end() // state.json is unchanged: undo
		return fmt.Errorf("%s to %s: %w", op, next.Current, err)
	}
	if err := s.links(next); err != nil {
		return fmt.Errorf("%s to %s: %w", op, next.Current, err)
	}
	return s.end()
}

// Current returns the current image; the error matches ErrNoCurrent when
// there is none.
func (s *Store) Current() (*Image, error) {
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	if st.Current == "" {
		return nil, ErrNoCurrent
	}
	return s.Image(st.Current)
}

// Previous returns the previous image; the error matches ErrNoPrevious when
// there is none.
func (s *Store) Previous() (*Image, error) {
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	if st.Previous == "" {
		return nil, ErrNoPrevious
	}
	return s.Image(st.Previous)
}
