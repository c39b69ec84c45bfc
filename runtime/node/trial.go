package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
)

// Trial is a switch made with SwitchOptions.Try: unless `node confirm`
// comes before Deadline, the node rolls back to From. It is kept in
// node.json (written atomically), so a daemon that restarts keeps the
// deadline; a daemon that starts after it has passed rolls back at once.
type Trial struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Ref      string    `json:"ref,omitempty"`
	Deadline time.Time `json:"deadline"`
}

// Errors of Confirm.
var (
	// ErrNoTrial: no switch waits for confirmation.
	ErrNoTrial = errors.New("no switch waits for confirmation: switch with --try DURATION first")
	// ErrTrialExpired: the deadline passed; the node rolls back (the
	// daemon does it, at once if it was not running then).
	ErrTrialExpired = errors.New("the switch was not confirmed in time")
)

// Confirm keeps the switch on trial: the node will not roll back. It
// returns the trial it confirmed.
func (n *Node) Confirm(ctx context.Context) (*Trial, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.opMu.Lock()
	defer n.unlockOp()
	var t *Trial
	err := n.update(func(st *state) {
		t = st.Trial
		if t != nil && time.Now().Before(t.Deadline) {
			st.Trial = nil
		}
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("confirming: %w", err)
	case t == nil:
		return nil, ErrNoTrial
	case !time.Now().Before(t.Deadline):
		return t, fmt.Errorf("confirming the switch to %s: %w: its deadline was %s; the node rolls back to %s",
			short(t.To), ErrTrialExpired, t.Deadline.Format(time.RFC3339), short(t.From))
	}
	n.disarm()
	logctx.From(ctx).Info("switch confirmed", "image", t.To)
	return t, nil
}

// startTrial records the trial of a switch from plan.From to plan.To (or
// clears any, for try <= 0) and, in the daemon, arms its deadline.
// opMu is held.
func (n *Node) startTrial(plan *Plan, try time.Duration) error {
	var t *Trial
	if try > 0 && plan.From != "" && plan.From != plan.To {
		t = &Trial{From: plan.From, To: plan.To, Ref: plan.Ref, Deadline: time.Now().Add(try).UTC().Round(time.Millisecond)}
	}
	if err := n.update(func(st *state) { st.Trial = t }); err != nil {
		return err
	}
	plan.Trial = t
	n.disarm()
	if t != nil && n.supervisor() != nil {
		n.arm(t)
	}
	return nil
}

// arm makes the daemon roll back from t.To at t.Deadline unless confirmed.
// opMu is held.
func (n *Node) arm(t *Trial) {
	n.trialMu.Lock()
	defer n.trialMu.Unlock()
	ctx := n.trialCtx
	n.trialTimer = time.AfterFunc(time.Until(t.Deadline), func() { n.expire(ctx, t) })
}

// disarm stops a trial's timer.
func (n *Node) disarm() {
	n.trialMu.Lock()
	defer n.trialMu.Unlock()
	if n.trialTimer != nil {
		n.trialTimer.Stop()
		n.trialTimer = nil
	}
}

// expire rolls back from t.To if t is still the trial and t.To still the
// current image.
func (n *Node) expire(ctx context.Context, t *Trial) {
	if ctx == nil || ctx.Err() != nil {
		return // the daemon is stopping: the next one rolls back
	}
	n.opMu.Lock()
	defer n.unlockOp()
	n.stMu.Lock()
	st, err := readState(n.cfg.Root)
	n.stMu.Unlock()
	log := logctx.From(ctx)
	if err != nil {
		log.Error("reading the switch on trial", "err", err)
		return
	}
	if st.Trial == nil || *st.Trial != *t {
		return // confirmed, or replaced by another switch
	}
	cur, err := n.current()
	if err != nil || cur == nil || cur.Digest != t.To {
		// The node moved on some other way: nothing to undo.
		_ = n.update(func(st *state) { st.Trial = nil })
		return
	}
	if prev, err := n.st.Previous(); err != nil || prev.Digest != t.From {
		log.Error("switch not confirmed in time, but the previous image is no longer the one it replaced: not rolling back", "want", t.From)
		_ = n.update(func(st *state) { st.Trial = nil })
		return
	}
	reason := fmt.Sprintf("switch --try: not confirmed by %s", t.Deadline.Format(time.RFC3339))
	log.Warn("switch not confirmed in time, rolling back", "from", t.To, "to", t.From)
	if err := n.rollback(ctx, reason); err != nil {
		log.Error("rolling back an unconfirmed switch", "err", err)
	}
}

// resumeTrial arms the deadline of a trial recorded before the daemon
// started (one already past rolls back at once). opMu is held.
func (n *Node) resumeTrial(ctx context.Context) error {
	n.stMu.Lock()
	st, err := readState(n.cfg.Root)
	n.stMu.Unlock()
	if err != nil || st.Trial == nil {
		return err
	}
	logctx.From(ctx).Info("switch on trial", "image", st.Trial.To, "deadline", st.Trial.Deadline)
	n.arm(st.Trial)
	return nil
}
