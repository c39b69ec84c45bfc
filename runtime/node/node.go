package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/drift"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/peerreg"
	"github.com/un-distro/undistro/runtime/store"
	"github.com/un-distro/undistro/runtime/supervise"
)

// Node is one node's store, state and (in the daemon) supervisor.
type Node struct {
	cfg Config
	st  *store.Store

	opMu sync.Mutex // serialises operations that change the node

	stMu sync.Mutex                           // guards node.json
	sup  atomic.Pointer[supervise.Supervisor] // set by Run
	// tracker records local edits of /etc (set by Run).
	tracker atomic.Pointer[drift.Tracker]
	// Guarded by opMu:
	running       *imagespec.Image // metadata of what the supervisor runs
	runningDigest string

	peers atomic.Pointer[peerreg.Server] // the peer endpoint, set by Run
	bt    atomic.Pointer[p2p.Client]     // the daemon's BitTorrent client, set by Run

	trialMu    sync.Mutex
	trialTimer *time.Timer     // the deadline of a switch on trial (daemon only)
	trialCtx   context.Context // the daemon's, for the rollback at the deadline

	changedMu sync.Mutex
	changed   chan struct{} // closed at the next change of state (see Changed)
}

// Open opens the node at cfg.Root, creating it if needed.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opening node: %w", err)
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("opening node %s: %w", cfg.Root, err)
	}
	st, err := store.Open(ctx, cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("opening node %s: %w", cfg.Root, err)
	}
	return &Node{cfg: cfg, st: st}, nil
}

// supervisor returns the daemon's supervisor, or nil outside the daemon.
func (n *Node) supervisor() *supervise.Supervisor { return n.sup.Load() }

// Root returns the node's root directory.
func (n *Node) Root() string { return n.cfg.Root }

// Store returns the node's image store.
func (n *Node) Store() *store.Store { return n.st }

// activeLink is the symlink to the current image's root filesystem that
// services run in; swapping it makes new and restarted services see the
// new image while unchanged ones keep running.
func (n *Node) activeLink() string { return filepath.Join(n.cfg.Root, "active") }

// LogDir is where the daemon writes service logs.
func LogDir(root string) string { return filepath.Join(root, "logs") }

// PullOptions configure Pull.
type PullOptions struct {
	Admit
	// Progress, if not nil, is called with bytes done and total (not
	// through the daemon).
	Progress func(done, total int64) `json:"-"`
}

// Pull fetches ref (a registry reference or oci:PATH[:ROLE]) into the
// store once the node's trust policy admits it: its signature (unless
// o.InsecureAllowUnsigned) and role are checked from the manifest and
// config before any layer is fetched, so a refused image leaves nothing in
// the store.
func (n *Node) Pull(ctx context.Context, ref string, o PullOptions) (*store.Image, error) {
	src, adm, err := n.resolve(ctx, ref, o.Admit, false)
	if err != nil {
		return nil, err
	}
	img, err := n.add(ctx, src, adm, o.Progress)
	if err != nil {
		return nil, err
	}
	return img, n.record(adm)
}

// resolve reads ref's manifest and config and admits it; nothing is written.
func (n *Node) resolve(ctx context.Context, ref string, o Admit, isSwitch bool) (*store.Source, *Admission, error) {
	src, via, err := n.resolveSource(ctx, ref)
	if err != nil {
		return nil, nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	adm, err := n.admitVia(ctx, src, o, isSwitch, via)
	if err != nil {
		return nil, nil, err
	}
	if adm.Unsigned {
		logctx.From(ctx).Warn("admitting an unsigned image: --insecure-allow-unsigned", "image", ref, "digest", src.Digest)
	}
	return src, adm, nil
}

// add fetches an admitted image's layers into the store: through the
// swarm, and seeded afterwards, only when adm verified its signature.
func (n *Node) add(ctx context.Context, src *store.Source, adm *Admission, progress func(done, total int64)) (*store.Image, error) {
	var opts []store.PullOption
	if progress != nil {
		opts = append(opts, store.WithProgress(progress))
	}
	if f := n.layerFetcher(); f != nil && adm.Verified() {
		opts = append(opts, store.WithLayerFetcher(f))
		// Layers fetched ahead stop when the pull ends, failed or not.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}
	img, err := n.st.Add(ctx, src, opts...)
	if err != nil {
		return nil, err // store.Add names the reference
	}
	if !adm.Verified() {
		return img, nil
	}
	if err := n.seedImage(ctx, img.Digest); err != nil {
		logctx.From(ctx).Warn("seeding the pulled image's layers", "image", img.Digest, "err", err)
	}
	return img, nil
}

// current returns the store's current image, or nil when it has none.
func (n *Node) current() (*store.Image, error) {
	cur, err := n.st.Current()
	if errors.Is(err, store.ErrNoCurrent) {
		return nil, nil
	}
	return cur, err
}

// SwitchOptions configure Switch.
type SwitchOptions struct {
	Admit
	// DryRun plans the switch and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Try, if positive, puts the switch on trial: the node rolls back
	// unless Confirm comes within Try (see Trial).
	Try time.Duration `json:"try,omitempty"`
}

// Switch makes ref the current image: it resolves and admits it (see Pull;
// an image older than the current one also needs o.AllowDowngrade), pulls
// it, plans the service changes and, unless o.DryRun, switches the store
// and applies the plan to the running services (only affected ones
// restart), then waits for every service to be ready. If they are not
// within HealthTimeout it rolls back and returns an error wrapping
// ErrRolledBack and the reason. Without a daemon the switch only changes
// the store; the daemon runs the health gate when it starts.
func (n *Node) Switch(ctx context.Context, ref string, o SwitchOptions) (*Plan, error) {
	if o.Try < 0 {
		return nil, fmt.Errorf("switching to %s: --try %s: want a positive duration", ref, o.Try)
	}
	n.opMu.Lock()
	defer n.unlockOp()
	src, adm, err := n.resolve(ctx, ref, o.Admit, true)
	if err != nil {
		return nil, err
	}
	cur, err := n.current()
	if err != nil {
		return nil, fmt.Errorf("switching to %s: %w", ref, err)
	}
	old, from := n.running, n.runningDigest
	if n.supervisor() == nil && cur != nil {
		old, from = cur.Meta, cur.Digest
	}
	plan := Diff(old, src.Meta)
	plan.From, plan.To, plan.Ref, plan.DryRun = from, src.Digest, ref, o.DryRun
	img, err := n.add(ctx, src, adm, nil)
	if err != nil {
		return nil, err
	}
	if err := n.record(adm); err != nil {
		return nil, err
	}
	if cur != nil && cur.Digest == img.Digest && from == img.Digest {
		return plan, nil
	}
	// The /etc merge is planned before anything changes: a template that
	// does not render or a refused conflict stops the switch here (a dry
	// run shows the decisions). The /etc lock is held until the store has
	// switched, so /etc and the store move together.
	unlockEtc, err := etcmerge.Open(n.cfg.Root).Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("switching to %s: %w", ref, err)
	}
	locked := true
	releaseEtc := func() {
		if locked {
			locked = false
			unlockEtc()
		}
	}
	defer releaseEtc()
	etc, err := n.planEtc(ctx, img, img.Meta.Config)
	if err != nil {
		return nil, fmt.Errorf("switching to %s: %w", ref, err)
	}
	plan.Etc = etc.Decisions
	plan.followEtc(old, img.Meta, etc.Changed())
	if o.DryRun {
		return plan, nil
	}
	if err := etc.Err(); err != nil {
		return plan, fmt.Errorf("switching to %s: %w", ref, err)
	}
	// A new switch ends any trial (the one it makes, if any, starts once
	// it is done).
	n.disarm()
	if err := n.update(func(st *state) { st.Pending, st.Trial = &Pending{From: from, To: img.Digest, Ref: ref}, nil }); err != nil {
		return nil, err
	}
	// /etc first: a crash before the store flips leaves the old image
	// current, and the daemon's start merges its /etc back.
	written, err := n.applyEtc(ctx, etc, img)
	if err == nil {
		plan.addEtcChanges(written, img.Meta)
	}
	var sw store.Switched
	if err == nil {
		// The store derives the new root from the current one (what the
		// image changes, not what it holds) before it flips the state.
		sw, err = n.st.SwitchReport(ctx, img.Digest)
	}
	if err != nil {
		_ = n.setPending(nil)
		if cur != nil {
			if _, rerr := n.reconcileEtc(context.WithoutCancel(ctx), cur); rerr != nil {
				logctx.From(ctx).Error("merging /etc back after a failed switch", "err", rerr)
			}
		}
		return nil, fmt.Errorf("switching to %s: %w", ref, err)
	}
	releaseEtc() // a rollback from here on takes it again
	was := sw.From
	plan.Root = &sw
	rootfs, err := n.st.Rootfs(ctx, img.Digest)
	if err != nil {
		return nil, fmt.Errorf("switching to %s: %w", ref, err)
	}
	if n.supervisor() == nil {
		// No daemon: the pending record makes the next `node run` gate it.
		// Another process may have switched since cur was read: report what
		// this switch really replaced.
		if was != from {
			var wasMeta *imagespec.Image
			if prev, err := n.st.Image(was); err == nil {
				wasMeta = prev.Meta
			}
			plan = Diff(wasMeta, img.Meta)
			plan.From, plan.To, plan.Ref, plan.Root = was, img.Digest, ref, &sw
			if err := n.setPending(&Pending{From: was, To: img.Digest, Ref: ref}); err != nil {
				return plan, err
			}
		}
		return plan, n.startTrial(plan, o.Try)
	}
	err = n.apply(ctx, plan, img.Meta, rootfs)
	if err == nil {
		err = n.gate(ctx, img.Meta)
	}
	if err != nil {
		return plan, n.rollbackAfter(ctx, img, old, err)
	}
	if err := n.setPending(nil); err != nil {
		return plan, err
	}
	return plan, n.startTrial(plan, o.Try)
}

// apply makes the supervisor run meta's services from rootfs, touching only
// the services plan names.
func (n *Node) apply(ctx context.Context, plan *Plan, meta *imagespec.Image, rootfs string) error {
	// First, so no service starts from the root the store just derived
	// the new one from (renamed away) while the others stop.
	if err := atomicfile.Symlink(rootfs, n.activeLink(), atomicfile.Step("node.active")); err != nil {
		return fmt.Errorf("activating %s: %w", rootfs, err)
	}
	known := map[string]bool{}
	var down []string
	for _, st := range n.supervisor().Status() {
		known[st.Name] = true
		if st.State == supervise.StateFailed || st.State == supervise.StateStopped {
			down = append(down, st.Name) // a switch gives given-up services a new start
		}
	}
	reload := n.reloadable(plan, meta, rootfs)
	restart := append([]string{}, plan.Restart...)
	for _, name := range plan.Reload {
		if !slices.Contains(reload, name) {
			restart = append(restart, name)
		}
	}
	for _, name := range append(append([]string{}, plan.Stop...), restart...) {
		if known[name] && !slices.Contains(down, name) {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		if err := n.supervisor().Stop(ctx, down...); err != nil {
			return fmt.Errorf("stopping services: %w", err)
		}
		if err := n.supervisor().Remove(down...); err != nil {
			return err
		}
		for _, name := range down {
			delete(known, name)
		}
	}
	n.supervisor().SetUsers(meta.Users, meta.Groups)
	var specs []imagespec.Service
	for _, s := range meta.Services {
		if !known[s.Name] {
			specs = append(specs, s)
		}
	}
	n.running, n.runningDigest = meta, plan.To
	for _, name := range reload {
		if !known[name] {
			continue // given up or stopped: started afresh below
		}
		err := n.supervisor().Reload(ctx, name, meta.Service(name))
		if err == nil {
			logctx.From(ctx).Info("reloaded", "service", name, "reason", plan.Reasons[name])
			continue
		}
		// It keeps running on its old config: a restart is the sure way.
		logctx.From(ctx).Warn("reload failed, restarting", "service", name, "err", err)
		if err := n.supervisor().Stop(ctx, name); err != nil {
			return fmt.Errorf("stopping %s: %w", name, err)
		}
		if err := n.supervisor().Remove(name); err != nil {
			return err
		}
		delete(known, name)
		specs = append(specs, *meta.Service(name))
	}
	if err := n.supervisor().Start(ctx, specs); err != nil {
		return fmt.Errorf("starting services: %w", err)
	}
	return nil
}

// reloadable returns the services of plan.Reload that can be reloaded in
// place: a sandboxed service sees the new files only if its root is the
// very directory the new root is (derived in place, see store.derive); one
// whose root was assembled afresh would reread its old files.
func (n *Node) reloadable(plan *Plan, meta *imagespec.Image, rootfs string) []string {
	if len(plan.Reload) == 0 {
		return nil
	}
	newRoot, err := os.Stat(rootfs)
	if err != nil {
		return nil
	}
	pids := map[string]int{}
	for _, st := range n.supervisor().Status() {
		pids[st.Name] = st.PID
	}
	var out []string
	for _, name := range plan.Reload {
		if meta.Service(name) == nil || pids[name] == 0 {
			continue
		}
		if n.chroot() {
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/root", pids[name]))
			if err != nil || !os.SameFile(fi, newRoot) {
				continue
			}
		}
		out = append(out, name)
	}
	return out
}

// gate waits up to HealthTimeout for all of meta's services to be ready.
func (n *Node) gate(ctx context.Context, meta *imagespec.Image) error {
	if len(meta.Services) == 0 {
		return nil
	}
	var names []string
	for _, s := range meta.Services {
		names = append(names, s.Name)
	}
	gctx, cancel := context.WithTimeout(ctx, n.cfg.HealthTimeout)
	defer cancel()
	return n.supervisor().WaitReady(gctx, names...)
}

// rollbackAfter undoes a switch to bad whose services failed with reason:
// the store goes back to the previous image and its services are
// re-applied. It returns the error Switch reports.
func (n *Node) rollbackAfter(ctx context.Context, bad *store.Image, old *imagespec.Image, reason error) error {
	log := logctx.From(ctx)
	prev, err := n.st.Previous()
	if err != nil || old == nil {
		_ = n.setPending(nil)
		return fmt.Errorf("services of %s are not ready and there is no previous image to roll back to: %w", short(bad.Digest), reason)
	}
	log.Warn("services not ready, rolling back", "from", bad.Digest, "to", prev.Digest, "reason", reason)
	// The rollback must finish even if the caller has gone away.
	rctx := context.WithoutCancel(ctx)
	if err := n.st.Rollback(rctx); err != nil {
		return fmt.Errorf("rolling back from %s after %v: %w", short(bad.Digest), reason, err)
	}
	written := n.rollbackEtc(rctx, prev)
	rootfs, err := n.st.Rootfs(rctx, prev.Digest)
	if err == nil {
		back := Diff(bad.Meta, prev.Meta)
		back.From, back.To = bad.Digest, prev.Digest
		back.addEtcChanges(written, prev.Meta)
		err = n.apply(rctx, back, prev.Meta, rootfs)
	}
	if err == nil {
		err = n.gate(rctx, prev.Meta)
	}
	rec := &Rollback{Time: time.Now().UTC(), From: bad.Digest, To: prev.Digest, Reason: reason.Error()}
	if serr := n.update(func(st *state) { st.LastRollback, st.Pending, st.Trial = rec, nil, nil }); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("%w to %s, but its services are not ready either: %v (reason for the rollback: %w)", ErrRolledBack, short(prev.Digest), err, reason)
	}
	return fmt.Errorf("%w to %s: %w", ErrRolledBack, short(prev.Digest), reason)
}

// Rollback makes the previous image current again and, in the daemon,
// re-applies its services.
func (n *Node) Rollback(ctx context.Context) error {
	n.opMu.Lock()
	defer n.unlockOp()
	return n.rollback(ctx, "rolled back by hand")
}

// rollback is Rollback with opMu held, recording reason. It ends any
// switch on trial.
func (n *Node) rollback(ctx context.Context, reason string) error {
	cur, err := n.current()
	if err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	prev, err := n.st.Previous()
	if err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	if err := n.st.Rollback(ctx); err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	from := ""
	if cur != nil {
		from = cur.Digest
	}
	rec := &Rollback{Time: time.Now().UTC(), From: from, To: prev.Digest, Reason: reason}
	if err := n.update(func(st *state) { st.LastRollback, st.Pending, st.Trial = rec, nil, nil }); err != nil {
		return err
	}
	n.disarm()
	written := n.rollbackEtc(ctx, prev)
	if n.supervisor() == nil {
		return nil
	}
	rootfs, err := n.st.Rootfs(ctx, prev.Digest)
	if err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	plan := Diff(n.running, prev.Meta)
	plan.From, plan.To = n.runningDigest, prev.Digest
	plan.addEtcChanges(written, prev.Meta)
	return n.apply(ctx, plan, prev.Meta, rootfs)
}

// GC removes images other than the current, the previous and the keep
// newest (keep <= 0: Config.Keep), returning the digests removed.
func (n *Node) GC(ctx context.Context, keep int) ([]string, error) {
	n.opMu.Lock()
	defer n.unlockOp()
	if keep <= 0 {
		keep = n.cfg.Keep
	}
	removed, err := n.st.GC(ctx, keep)
	if err != nil {
		return nil, fmt.Errorf("collecting garbage: %w", err)
	}
	n.pruneAttachments(ctx)
	n.unseedGone()
	return removed, nil
}

// update changes node.json under its lock.
func (n *Node) update(f func(*state)) error {
	n.stMu.Lock()
	defer n.stMu.Unlock()
	st, err := readState(n.cfg.Root)
	if err != nil {
		return err
	}
	f(&st)
	return writeState(n.cfg.Root, st)
}

func (n *Node) setPending(p *Pending) error {
	return n.update(func(st *state) { st.Pending = p })
}

// Close releases the node's store.
func (n *Node) Close() error { return n.st.Close() }
