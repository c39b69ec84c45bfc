package supervise

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Stop stops the named services (every service when none are named):
// dependents before what they depend on, independent services in parallel.
// Each gets SIGTERM on its whole process group, then SIGKILL after its
// StopTimeout; a sandboxed service that does not catch SIGTERM (it is its
// namespace's init, which would never see it) gets SIGKILL at once. It returns once they have exited, or with ctx's error.
func (s *Supervisor) Stop(ctx context.Context, names ...string) error {
	s.mu.Lock()
	names, err := s.namesLocked(names)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	specs := make([]imagespec.Service, 0, len(names))
	incs := map[string]*incarnation{}
	for _, n := range names {
		specs = append(specs, s.svcs[n].spec)
		incs[n] = s.svcs[n].inc
	}
	s.mu.Unlock()

	lv := levels(specs)
	for i := len(lv) - 1; i >= 0; i-- {
		var wg sync.WaitGroup
		for _, n := range lv[i] {
			inc := incs[n]
			if inc == nil {
				continue
			}
			inc.requestStop()
			wg.Go(func() {
				select {
				case <-inc.done:
				case <-ctx.Done():
				}
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopping services: %w", err)
		}
	}
	return nil
}

// Restart stops the named services (every service when none are named)
// and starts them again with the same definitions, failed ones included.
func (s *Supervisor) Restart(ctx context.Context, names ...string) error {
	s.mu.Lock()
	names, err := s.namesLocked(names)
	var specs []imagespec.Service
	for _, n := range names {
		specs = append(specs, s.svcs[n].spec)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.Stop(ctx, names...); err != nil {
		return err
	}
	return s.Start(ctx, specs)
}

// Remove forgets stopped or failed services, so Status no longer lists
// them, and removes their cgroups. A service still supervised is an
// error: Stop it first.
func (s *Supervisor) Remove(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		sv := s.svcs[n]
		if sv == nil {
			return fmt.Errorf("service %q: %w", n, ErrUnknownService)
		}
		if sv.inc != nil && !isDone(sv.inc) {
			return fmt.Errorf("removing service %q: still supervised: stop it first", n)
		}
	}
	for _, n := range names {
		if c, ok := s.svcs[n].out.(interface{ Close() error }); ok {
			_ = c.Close()
		}
		delete(s.svcs, n)
		if s.o.Cgroup != nil {
			s.o.Cgroup.removeGroup(n)
		}
		s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == n })
	}
	return nil
}

// WaitReady blocks until the named services (every service when none are
// named) are ready or running, or have completed. It fails as soon as one
// has failed or been stopped, and when ctx ends, naming the first service
// that is not ready and why.
func (s *Supervisor) WaitReady(ctx context.Context, names ...string) error {
	for {
		s.mu.Lock()
		list, err := s.namesLocked(names)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		var pending *service
		for _, n := range list {
			sv := s.svcs[n]
			ok, serr := satisfied(sv)
			if serr != nil {
				st := sv.st
				s.mu.Unlock()
				return &NotReadyError{Service: n, State: st.State, Reason: serr.Error()}
			}
			if !ok && pending == nil {
				pending = sv
			}
		}
		if pending == nil {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			s.mu.Lock()
			st := pending.st
			s.mu.Unlock()
			reason := "not ready in time"
			if st.LastError != "" {
				reason += ", last error: " + st.LastError
			}
			return &NotReadyError{Service: st.Name, State: st.State, Reason: reason, Err: ctx.Err()}
		}
	}
}

// NotReadyError is WaitReady's error: which service is not ready and why.
type NotReadyError struct {
	Service string
	State   State
	Reason  string
	Err     error // the context's error when WaitReady timed out
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("service %q not ready (%s): %s", e.Service, e.State, e.Reason)
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// levels groups services by dependency depth within the set: level 0
// depends on nothing in the set, level k on something at level k-1.
func levels(specs []imagespec.Service) [][]string {
	by := map[string]*imagespec.Service{}
	for i := range specs {
		by[specs[i].Name] = &specs[i]
	}
	depth := map[string]int{}
	var visit func(n string, seen map[string]bool) int
	visit = func(n string, seen map[string]bool) int {
		if d, ok := depth[n]; ok {
			return d
		}
		if seen[n] {
			return 0 // a cycle; validate refuses them, so this is defensive
		}
		seen[n] = true
		d := 0
		for _, a := range by[n].After {
			if by[a] != nil {
				d = max(d, visit(a, seen)+1)
			}
		}
		depth[n] = d
		return d
	}
	var out [][]string
	for _, sp := range specs {
		d := visit(sp.Name, map[string]bool{})
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], sp.Name)
	}
	return out
}

// findCycle returns a dependency cycle among specs, as a path, or nil.
func findCycle(specs []imagespec.Service) []string {
	by := map[string]*imagespec.Service{}
	for i := range specs {
		by[specs[i].Name] = &specs[i]
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cyc []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, a := range by[n].After {
			if by[a] == nil {
				continue
			}
			switch color[a] {
			case grey:
				i := slices.Index(stack, a)
				cyc = append(slices.Clone(stack[i:]), a)
				return true
			case white:
				if visit(a) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, sp := range specs {
		if color[sp.Name] == white && visit(sp.Name) {
			return cyc
		}
	}
	return nil
}

// IsNotReady reports whether err is a NotReadyError.
func IsNotReady(err error) bool {
	var nr *NotReadyError
	return errors.As(err, &nr)
}
