package supervise

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// errStopping ends a wait because the service is being stopped.
var errStopping = errors.New("stopping")

// outcome is how one process lifetime ended.
type outcome struct {
	exit    exitInfo
	err     error // start or readiness failure
	stopped bool  // stopped by request: do not restart
	ready   bool  // it had become ready
	uptime  time.Duration
}

// run is the life of one incarnation of sv: wait for dependencies, then
// start, watch and restart the process until stopped or given up.
func (s *Supervisor) run(sv *service, inc *incarnation) {
	defer close(inc.done)
	spec := sv.spec
	log := s.log.With("service", spec.Name)
	if err := s.waitDeps(spec, inc); err != nil {
		if errors.Is(err, errStopping) {
			s.set(sv, StateStopped, 0, "", 0)
		} else {
			s.set(sv, StateFailed, 0, err.Error(), 0)
		}
		return
	}
	b := s.o.Backoff
	var fails burst
	attempt := 0
	for {
		o := s.runOnce(sv, spec, inc)
		s.mu.Lock()
		if o.exit.desc != "" {
			sv.st.LastExit = o.exit.desc
		}
		s.mu.Unlock()
		if o.stopped {
			s.set(sv, StateStopped, 0, "", 0)
			return
		}
		failed := o.err != nil || !o.exit.ok()
		errText := ""
		switch {
		case o.err != nil:
			errText = o.err.Error()
		case failed:
			errText = o.exit.desc
		}
		restart := spec.Restart == "" || spec.Restart == imagespec.RestartAlways ||
			(spec.Restart == imagespec.RestartOnFailure && failed)
		if !restart {
			st := StateStopped
			if failed {
				st = StateFailed
			}
			s.mu.Lock()
			// A service without a check that exits 0 is a task that
			// completed, however short it ran.
			sv.completed = !failed && (o.ready || spec.Ready == nil)
			s.setLocked(sv, st, 0, errText, 0)
			s.mu.Unlock()
			return
		}
		now := time.Now()
		if o.ready && o.uptime >= b.BurstWindow {
			attempt, fails = 0, burst{}
		}
		if fails.add(now, b.BurstLimit, b.BurstWindow) {
			msg := fmt.Sprintf("gave up after %d failures within %s", b.BurstLimit, b.BurstWindow)
			if errText != "" {
				msg += ", last: " + errText
			}
			log.Debug("giving up on service", "reason", msg)
			s.set(sv, StateFailed, 0, msg, 0)
			return
		}
		attempt++
		delay := b.Delay(attempt)
		log.Debug("restarting service", "in", delay, "exit", o.exit.desc, "err", errText)
		s.set(sv, StateBackoff, 0, errText, delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-inc.stop:
			t.Stop()
			s.set(sv, StateStopped, 0, "", 0)
			return
		case <-s.ctx.Done():
			t.Stop()
			s.set(sv, StateStopped, 0, "", 0)
			return
		}
		s.mu.Lock()
		sv.st.Restarts++
		s.mu.Unlock()
	}
}

// runOnce starts spec's process and watches it until it exits, fails its
// readiness check, or is stopped.
func (s *Supervisor) runOnce(sv *service, spec imagespec.Service, inc *incarnation) outcome {
	fw, err := s.listenPublished(spec)
	if err != nil {
		return outcome{err: err}
	}
	defer fw.close()
	p, err := s.spawn(spec, sv.out)
	if err != nil {
		return outcome{err: err}
	}
	if fw != nil {
		fw.serve(p)
	}
	s.mu.Lock()
	sv.st.Sandbox = p.sandbox
	sv.proc = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		sv.proc = nil
		s.mu.Unlock()
	}()
	started := time.Now()
	var readyCh chan error
	cancelReady := func() {}
	if spec.Ready != nil {
		timeout := time.Duration(spec.Ready.Timeout)
		if timeout <= 0 {
			timeout = DefaultReadyTimeout
		}
		var rctx context.Context
		rctx, cancelReady = context.WithTimeoutCause(s.ctx, timeout, fmt.Errorf("not ready within %s", timeout))
		readyCh = make(chan error, 1)
		go func() { readyCh <- s.waitReady(rctx, spec, p) }()
		s.set(sv, StateStarting, p.pid, "", 0)
	}
	defer cancelReady()
	// Without a check, the service is ready once it has stayed up for the
	// settle period: a timer, so nothing polls.
	var settled <-chan time.Time
	ready := false
	switch {
	case spec.Ready != nil:
	case s.o.Settle > 0:
		t := time.NewTimer(s.o.Settle)
		defer t.Stop()
		settled = t.C
		s.set(sv, StateStarting, p.pid, "", 0)
	default:
		ready = true
		s.set(sv, StateRunning, p.pid, "", 0)
	}
	for {
		select {
		case <-settled:
			settled = nil
			ready = true
			s.set(sv, StateRunning, p.pid, "", 0)
		case err := <-readyCh:
			readyCh = nil
			// The ready timeout's timer would otherwise fire, for nothing,
			// while the service runs.
			cancelReady()
			if err == nil {
				ready = true
				s.set(sv, StateReady, p.pid, "", 0)
				continue
			}
			err = fmt.Errorf("readiness check failed: %w", err)
			return outcome{exit: s.terminate(p, spec), err: err, uptime: time.Since(started)}
		case ex := <-p.exited:
			signalGroup(p.pid, 9) // leftovers of the group die with it
			return outcome{exit: ex, ready: ready, uptime: time.Since(started)}
		case <-inc.stop:
			return outcome{exit: s.terminate(p, spec), stopped: true}
		case <-s.ctx.Done():
			return outcome{exit: s.terminate(p, spec), stopped: true}
		}
	}
}

// terminate sends SIGTERM to p's process group, SIGKILL after the
// service's stop timeout, and returns once p has exited. The group is
// killed after the leader exits so no member outlives it. A sandboxed
// service that has no SIGTERM handler (SigCgt in /proc/PID/status) gets
// SIGKILL at once: as its namespace's PID 1 it would never see SIGTERM.
func (s *Supervisor) terminate(p *proc, spec imagespec.Service) exitInfo {
	timeout := time.Duration(spec.StopTimeout)
	if timeout <= 0 {
		timeout = DefaultStopTimeout
	}
	if p.sandboxed && !catchesSignal(p.pid, syscall.SIGTERM) {
		// A sandboxed service is PID 1 of its namespace, where the kernel
		// drops the signals it has no handler for: SIGTERM's default
		// action, terminating, is done with SIGKILL at once.
		s.log.Debug("service is its namespace's init without a SIGTERM handler, killing", "service", spec.Name)
		signalGroup(p.pid, 9)
		return <-p.exited
	}
	signalGroup(p.pid, 15)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ex := <-p.exited:
		signalGroup(p.pid, 9)
		return ex
	case <-t.C:
	}
	s.log.Debug("service ignored SIGTERM, killing", "service", spec.Name, "after", timeout)
	signalGroup(p.pid, 9)
	return <-p.exited
}

// waitDeps blocks until every service spec names in After is ready (or
// completed), failing when one of them failed or was stopped.
func (s *Supervisor) waitDeps(spec imagespec.Service, inc *incarnation) error {
	for {
		s.mu.Lock()
		pending, err := "", error(nil)
		for _, d := range spec.After {
			dsv := s.svcs[d]
			if dsv == nil {
				err = fmt.Errorf("after %q: %w", d, ErrUnknownService)
				break
			}
			if ok, derr := satisfied(dsv); derr != nil {
				err = fmt.Errorf("dependency %q: %w", d, derr)
				break
			} else if !ok {
				pending = d
				break
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ch:
		case <-inc.stop:
			return errStopping
		case <-s.ctx.Done():
			return errStopping
		}
	}
}

// satisfied reports whether sv counts as ready, or an error when it never
// will without intervention. s.mu is held.
func satisfied(sv *service) (bool, error) {
	switch sv.st.State {
	case StateReady, StateRunning:
		return true, nil
	case StateFailed:
		return false, fmt.Errorf("failed: %s", sv.st.LastError)
	case StateStopped:
		if sv.completed {
			return true, nil
		}
		return false, errors.New("stopped")
	}
	return false, nil
}
