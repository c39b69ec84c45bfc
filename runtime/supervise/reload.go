package supervise

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// ErrCannotReload: a service cannot be reloaded as it stands (it declares
// no reload, is not running, or would not survive its reload signal);
// restart it instead.
var ErrCannotReload = errors.New("service cannot be reloaded")

// Reload tells the running service name to reread its config files as its
// Reload says, keeping its process: its signal goes to its main process
// (which must catch it: one without a handler would die, or, as its
// namespace's init, never see it), its command runs in its sandbox as its
// user and must exit 0. spec, when not nil, becomes the service's
// definition (a switch changed only its files). The error wraps
// ErrCannotReload when the service cannot be reloaded at all.
func (s *Supervisor) Reload(ctx context.Context, name string, spec *imagespec.Service) error {
	s.mu.Lock()
	sv := s.svcs[name]
	if sv == nil {
		s.mu.Unlock()
		return fmt.Errorf("reloading %q: %w", name, ErrUnknownService)
	}
	cur, p := sv.spec, sv.proc
	if spec != nil {
		cur = *spec
	}
	s.mu.Unlock()
	r := cur.Reload
	switch {
	case r == nil:
		return fmt.Errorf("reloading %q: %w: it declares no reload", name, ErrCannotReload)
	case p == nil:
		return fmt.Errorf("reloading %q: %w: it is not running", name, ErrCannotReload)
	}
	if err := r.Check(); err != nil {
		return fmt.Errorf("reloading %q: %w: %v", name, ErrCannotReload, err)
	}
	if r.Signal != "" {
		sig := imagespec.ReloadSignals[r.Signal]
		if !catchesSignal(p.pid, sig) {
			return fmt.Errorf("reloading %q: %w: its process %d does not catch %s", name, ErrCannotReload, p.pid, r.Signal)
		}
		if err := syscall.Kill(p.pid, sig); err != nil {
			return fmt.Errorf("reloading %q: sending %s: %w", name, r.Signal, err)
		}
	} else if err := s.runCheck(ctx, cur, p, r.Command); err != nil {
		return fmt.Errorf("reloading %q: %v: %w", name, r.Command, err)
	}
	if spec != nil {
		s.mu.Lock()
		if s.svcs[name] == sv {
			sv.spec = *spec
		}
		s.mu.Unlock()
	}
	return nil
}
