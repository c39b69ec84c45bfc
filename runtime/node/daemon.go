package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/supervise"
)

// shutdownTimeout bounds how long Run waits for services to stop on exit.
const shutdownTimeout = 30 * time.Second

// Run is the daemon: it supervises the current image's services (finishing
// the health gate of a switch made while no daemon ran) and serves the
// node's operations on the unix socket until ctx ends; then it stops the
// services and returns.
func (n *Node) Run(ctx context.Context) error {
	log := logctx.From(ctx)
	if err := supervise.EnableSubreaper(); err != nil {
		log.Warn("orphaned service processes will not be reaped", "err", err)
	}
	ln, err := n.listen()
	if err != nil {
		return err
	}
	defer os.Remove(n.cfg.Socket)
	if err := n.servePeers(ctx); err != nil {
		// Sharing with peers is an optimisation: the node runs without it.
		log.Warn("not serving peers", "err", err)
	}
	supCtx, cancelSup := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSup()
	chroot := n.chroot()
	cg, noCg := limits(chroot)
	sup := supervise.New(supCtx, supervise.Options{
		Root:     n.activeLink(),
		Chroot:   chroot,
		LogDir:   LogDir(n.cfg.Root),
		StateDir: filepath.Join(n.cfg.Root, "state"),
		Cgroup:   cg,
		NoCgroup: noCg,
		Tag:      n.cfg.Root,
		Backoff:  n.cfg.Backoff,
		Etc:      n.etcDir,
	})
	go logEvents(supCtx, sup)
	go n.forwardChanges(supCtx, sup)
	// Services a previous daemon of this root left running when it died
	// would hold ports and run beside the new ones: stop them first.
	if killed, err := supervise.KillLeftovers(n.cfg.Root); err != nil {
		log.Warn("looking for services a previous daemon left running", "err", err)
	} else if killed > 0 {
		log.Warn("stopped processes a previous daemon left running", "count", killed)
	}

	stopP2P, err := n.startP2P(ctx)
	if err != nil {
		return fmt.Errorf("starting the p2p client: %w", err)
	}
	defer stopP2P()

	n.opMu.Lock()
	n.trialCtx = ctx
	n.sup.Store(sup)
	pending, err := n.startCurrent(ctx)
	if err == nil {
		err = n.resumeTrial(ctx)
	}
	n.startTracker(supCtx)
	n.unlockOp()
	defer n.disarm()
	if err != nil {
		log.Error("starting the current image's services", "err", err)
	}
	if pending != nil {
		go n.finishPending(ctx, pending)
	}

	srv := &http.Server{Handler: n.handler(), BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("node daemon running", "root", n.cfg.Root, "socket", n.cfg.Socket)
	trimMemory()
	// Starting services (launchers forked from this binary, readiness
	// checks) pages code in again; give it back once they have settled.
	go func() {
		var names []string
		for _, s := range sup.Services() {
			names = append(names, s.Name)
		}
		_ = sup.WaitReady(ctx, names...)
		trimMemory()
	}()
	stopExtensions := n.runExtensions(context.WithoutCancel(ctx))
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stopExtensions() // a fleet member leaves while its services still run
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	n.opMu.Lock()
	defer n.unlockOp()
	if err := sup.Stop(sctx); err != nil {
		log.Error("stopping services", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", n.cfg.Socket, serveErr)
	}
	return nil
}

// listen opens the unix socket, replacing a stale one.
func (n *Node) listen() (net.Listener, error) {
	if _, err := os.Stat(n.cfg.Socket); err == nil {
		if c, err := net.DialTimeout("unix", n.cfg.Socket, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on %s: a node daemon already runs there", n.cfg.Socket)
		}
		_ = os.Remove(n.cfg.Socket)
	}
	ln, err := net.Listen("unix", n.cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", n.cfg.Socket, err)
	}
	if err := os.Chmod(n.cfg.Socket, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening on %s: %w", n.cfg.Socket, err)
	}
	return ln, nil
}

// startCurrent starts the current image's services and returns the switch
// still pending for it, if any. opMu is held.
func (n *Node) startCurrent(ctx context.Context) (*Pending, error) {
	n.stMu.Lock()
	st, err := readState(n.cfg.Root)
	n.stMu.Unlock()
	if err != nil {
		return nil, err
	}
	cur, err := n.current()
	if err != nil || cur == nil {
		return nil, err
	}
	pending := st.Pending
	if pending != nil && pending.To != cur.Digest {
		// The switch never reached the store: nothing to check.
		pending = nil
		if err := n.setPending(nil); err != nil {
			return nil, err
		}
	}
	// /etc follows the current image and the node's facts now (a merge a
	// crash interrupted completes; changed facts re-render).
	if _, err := n.lockedReconcileEtc(ctx, cur); err != nil {
		logctx.From(ctx).Error("merging /etc of the current image", "err", err)
	}
	rootfs, err := n.st.Rootfs(ctx, cur.Digest)
	if err != nil {
		return pending, err
	}
	plan := Diff(nil, cur.Meta)
	plan.To = cur.Digest
	return pending, n.apply(ctx, plan, cur.Meta, rootfs)
}

// finishPending runs the health gate of a switch made while no daemon ran,
// rolling back if it fails.
func (n *Node) finishPending(ctx context.Context, p *Pending) {
	n.opMu.Lock()
	defer n.unlockOp()
	log := logctx.From(ctx)
	cur, err := n.current()
	if err != nil || cur == nil || cur.Digest != p.To {
		return
	}
	if err := n.gate(ctx, cur.Meta); err != nil {
		if ctx.Err() != nil {
			return // shutting down: the next start checks again
		}
		prev, perr := n.st.Previous()
		var old = cur.Meta
		if perr == nil {
			old = prev.Meta
		}
		if rerr := n.rollbackAfter(ctx, cur, old, err); rerr != nil {
			log.Warn("pending switch failed its health gate", "err", rerr)
		}
		return
	}
	if err := n.setPending(nil); err != nil {
		log.Error("recording the health gate", "err", err)
	}
}

// logEvents logs the supervisor's state changes.
func logEvents(ctx context.Context, sup *supervise.Supervisor) {
	log := logctx.From(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sup.Events():
			switch ev.State {
			case supervise.StateFailed:
				log.Warn("service failed", "service", ev.Service, "err", ev.Err)
			case supervise.StateBackoff:
				log.Info("service exited, restarting", "service", ev.Service, "in", ev.Delay, "err", ev.Err)
			default:
				log.Debug("service", "service", ev.Service, "state", ev.State, "pid", ev.PID)
			}
		}
	}
}

// limits returns the cgroup v2 subtree that enforces the services'
// limits, set up with the daemon in its leaf, or why there is none (then
// rlimits do). Nothing is created or moved unless detection succeeds: a
// v1 or hybrid host keeps its cgroups as they are.
func limits(sandboxed bool) (*supervise.Cgroup, error) {
	if !sandboxed {
		return nil, errors.New("services are not sandboxed")
	}
	cg, err := supervise.DetectCgroup()
	if err != nil {
		return nil, err
	}
	if err := cg.Setup(os.Getpid()); err != nil {
		return nil, fmt.Errorf("setting up %s: %w", cg.Dir, err)
	}
	return cg, nil
}

// chroot reports whether the daemon runs services sandboxed in the image
// root (as root, unless Config.NoChroot).
func (n *Node) chroot() bool { return !n.cfg.NoChroot && os.Geteuid() == 0 }
