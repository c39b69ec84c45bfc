package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// DefaultSettle is how long a service without a readiness check must stay
// up before it counts as ready, when Options.Settle is zero.
const DefaultSettle = time.Second

// DefaultStopTimeout is how long Stop waits after SIGTERM before SIGKILL
// when a service's StopTimeout is zero.
const DefaultStopTimeout = 10 * time.Second

// State is where a service is in its life.
type State string

// Service states.
const (
	StateWaiting  State = "waiting"  // waiting for its `after` services to be ready
	StateStarting State = "starting" // running, readiness check not passed (or settle period not over) yet
	StateReady    State = "ready"    // running, readiness check passed
	StateRunning  State = "running"  // running past its settle period, no readiness check declared
	StateBackoff  State = "backoff"  // exited, waiting to be restarted
	StateFailed   State = "failed"   // exited and will not be restarted (gave up, or policy)
	StateStopped  State = "stopped"  // stopped by request, or exited 0 under on-failure/never
)

// ErrUnknownService is returned for a service name the supervisor does not
// know.
var ErrUnknownService = errors.New("unknown service")

// Options configure a Supervisor.
type Options struct {
	// Root is the image root filesystem services run in; "" runs them on
	// the host. Without Chroot, a service's exec path and work dir are
	// taken relative to Root on the host (for tests and unprivileged use).
	Root string
	// Chroot runs each service sandboxed in Root: in new mount, PID, IPC,
	// UTS and (unless it takes the host's) network namespaces, Root
	// bind-mounted read-only, fresh /proc with the kernel's knobs
	// read-only or masked, a minimal /dev, noexec tmpfs /tmp and /run
	// (where the image has those directories), no capability but the
	// service's grants, no_new_privs, the default seccomp filter and no
	// inherited descriptor (see imagespec.Sandbox for the grants, and
	// internal/launch); the service is PID 1 of its namespace (see
	// internal/launch for what that means for signals and orphans). Readiness commands run in the
	// service's root as it sees it (/proc/PID/root). It needs root, and
	// the program must call MaybeLaunch first thing in main: the sandbox
	// is set up by re-executing /proc/self/exe, which then execs the
	// service.
	Chroot bool
	// Users and Groups resolve a service's User by name (from the image's
	// metadata). A numeric "uid[:gid]" works without them.
	Users  []imagespec.User
	Groups []imagespec.Group
	// Tag, when set, is added to every service's environment as
	// UNDISTRO_SUPERVISOR=Tag, so that a later supervisor with the same Tag
	// can find and stop what a dead one left running (KillLeftovers).
	// Default: none.
	Tag string
	// LogDir receives NAME.log per service; "" discards service output.
	LogDir string
	// LogMaxBytes is the size at which a log rotates (default 1 MiB).
	LogMaxBytes int64
	// LogKeep is how many rotated files (NAME.log.1…) are kept (default 3).
	LogKeep int
	// Backoff times restarts; zero fields take DefaultBackoff's.
	Backoff Backoff
	// Cgroup, when set, enforces services' memory_max, tasks_max,
	// cpu_weight and io_weight with a cgroup v2 group per service (see
	// DetectCgroup); without it memory_max and tasks_max fall back to
	// RLIMIT_AS and RLIMIT_NPROC, the weights are not enforced, and
	// SandboxStatus says so. Default: none.
	Cgroup *Cgroup
	// NoCgroup says why Cgroup is nil, for Limits. Default: none.
	NoCgroup error
	// Etc, when set, returns (at each start of a sandboxed service) a host
	// directory to bind read-only on its /etc, or "" for the image's own:
	// the node's writable /etc (ROOT/etc), which the node merges and the
	// services only read. Default: the image's own /etc.
	Etc func() string
	// StateDir holds the services' read_write_paths, as
	// StateDir/SERVICE/PATH. Default: none (such services fail to start).
	StateDir string
	// Unhardened runs sandboxed services in the sandbox of before issue
	// 13 (mount and PID namespaces, nine capabilities dropped, nothing
	// else): only the benchmark's baseline sets it. Default false.
	Unhardened bool
	// Settle is how long a service that declares no readiness check must
	// stay up before it counts as ready (state running): one that exits
	// sooner was never ready, so a crash-looping service fails WaitReady
	// (and the node's health gate) instead of passing it between two
	// crashes. A service with restart "never" or "on-failure" that exits 0
	// counts as completed, settled or not. Default DefaultSettle (1s);
	// negative means none: ready the moment it starts.
	Settle time.Duration
}

// ServiceStatus is a snapshot of one service.
type ServiceStatus struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	PID       int       `json:"pid,omitempty"`
	Restarts  int       `json:"restarts"`
	LastExit  string    `json:"lastExit,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	Since     time.Time `json:"since"`
	// Sandbox is the sandbox of its last start (nil when it runs
	// unsandboxed: Options.Chroot off).
	Sandbox *SandboxStatus `json:"sandbox,omitempty"`
}

// Event is one state change of a service.
type Event struct {
	Time    time.Time
	Service string
	State   State
	PID     int
	Delay   time.Duration // before the next start, in StateBackoff
	Err     string
}

// Supervisor runs and watches a set of services.
type Supervisor struct {
	ctx    context.Context
	log    *slog.Logger // from New's ctx
	o      Options
	http   *http.Client
	events chan Event

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	svcs    map[string]*service
	order   []string
}

// service is one named service and its current incarnation.
type service struct {
	spec      imagespec.Service
	out       io.Writer
	st        ServiceStatus
	completed bool // exited 0 and will not be restarted: counts as ready
	inc       *incarnation
	proc      *proc // the running process, nil between runs
}

// incarnation is one run of a service's goroutine, from Start to stopped.
type incarnation struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func (i *incarnation) requestStop() { i.stopOnce.Do(func() { close(i.stop) }) }

// New returns a Supervisor whose services live until ctx ends (then they
// are stopped as by Stop).
func New(ctx context.Context, o Options) *Supervisor {
	if o.LogMaxBytes <= 0 {
		o.LogMaxBytes = DefaultLogMaxBytes
	}
	if o.LogKeep <= 0 {
		o.LogKeep = DefaultLogKeep
	}
	o.Backoff = o.Backoff.withDefaults()
	switch {
	case o.Settle == 0:
		o.Settle = DefaultSettle
	case o.Settle < 0:
		o.Settle = 0
	}
	return &Supervisor{
		ctx:     ctx,
		log:     logctx.From(ctx),
		o:       o,
		http:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		events:  make(chan Event, 256),
		changed: make(chan struct{}),
		svcs:    map[string]*service{},
	}
}

// Events returns the channel of state changes. It is buffered; events that
// find it full are dropped, so a slow reader never stalls supervision.
func (s *Supervisor) Events() <-chan Event { return s.events }

// Start validates services and starts each one as soon as the services it
// names in After are ready (services already supervised count), so
// independent services start in parallel. It returns once they are
// launched; use WaitReady to wait for them. A service already running is an
// error; a stopped or failed one is replaced by the new definition.
func (s *Supervisor) Start(ctx context.Context, services []imagespec.Service) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.validate(services); err != nil {
		return err
	}
	var incs []*incarnation
	for _, spec := range services {
		sv := s.svcs[spec.Name]
		if sv == nil {
			out, err := s.openLog(spec.Name)
			if err != nil {
				return err
			}
			sv = &service{out: out}
			s.svcs[spec.Name] = sv
			s.order = append(s.order, spec.Name)
		}
		sv.spec = spec
		sv.completed = false
		sv.inc = &incarnation{stop: make(chan struct{}), done: make(chan struct{})}
		incs = append(incs, sv.inc)
		s.setLocked(sv, StateWaiting, 0, "", 0)
	}
	for i, spec := range services {
		go s.run(s.svcs[spec.Name], incs[i])
	}
	return nil
}

// validate checks services against each other and the running set.
func (s *Supervisor) validate(services []imagespec.Service) error {
	batch := map[string]*imagespec.Service{}
	for i := range services {
		sp := &services[i]
		switch {
		case sp.Name == "":
			return fmt.Errorf("service %d has no name", i)
		case batch[sp.Name] != nil:
			return fmt.Errorf("service %q given twice", sp.Name)
		case len(sp.Exec) == 0 || sp.Exec[0] == "":
			return fmt.Errorf("service %q: exec is empty: give the program and its arguments", sp.Name)
		}
		switch sp.Restart {
		case "", imagespec.RestartAlways, imagespec.RestartOnFailure, imagespec.RestartNever:
		default:
			return fmt.Errorf("service %q: restart policy %q: use %q, %q or %q", sp.Name, sp.Restart,
				imagespec.RestartAlways, imagespec.RestartOnFailure, imagespec.RestartNever)
		}
		if r := sp.Ready; r != nil {
			if r.NotifyFD != 0 && r.NotifyFD < 3 {
				return fmt.Errorf("service %q: notification fd %d: use 3 or above (0-2 are stdin, stdout, stderr)", sp.Name, r.NotifyFD)
			}
			if r.NotifyFD == 0 && r.TCP == "" && r.HTTP == "" && len(r.Command) == 0 {
				return fmt.Errorf("service %q: ready check names no kind: set notifyFD, tcp, http or command", sp.Name)
			}
		}
		if r := sp.Reload; r != nil {
			if err := r.Check(); err != nil {
				return fmt.Errorf("service %q: %w", sp.Name, err)
			}
		}
		if sv := s.svcs[sp.Name]; sv != nil && sv.inc != nil && !isDone(sv.inc) {
			return fmt.Errorf("service %q is already supervised: stop it first or use Restart", sp.Name)
		}
		batch[sp.Name] = sp
	}
	for _, sp := range services {
		for _, d := range sp.After {
			if batch[d] == nil && s.svcs[d] == nil {
				return fmt.Errorf("service %q: after %q: %w", sp.Name, d, ErrUnknownService)
			}
		}
	}
	if cyc := findCycle(services); cyc != nil {
		return fmt.Errorf("services depend on each other in a cycle: %s: remove one of these after entries", strings.Join(cyc, " -> "))
	}
	return nil
}

func isDone(i *incarnation) bool {
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

// openLog returns the log writer for service name.
func (s *Supervisor) openLog(name string) (io.Writer, error) {
	if s.o.LogDir == "" {
		return io.Discard, nil
	}
	r, err := openRotator(LogPath(s.o.LogDir, name), s.o.LogMaxBytes, s.o.LogKeep)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	return r, nil
}

// Changed returns a channel closed at the next change of any service's
// state.
func (s *Supervisor) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// setLocked records a state change and wakes waiters. s.mu is held.
func (s *Supervisor) setLocked(sv *service, st State, pid int, errText string, delay time.Duration) {
	now := time.Now()
	sv.st.Name = sv.spec.Name
	sv.st.State, sv.st.PID, sv.st.Since = st, pid, now
	if errText != "" {
		sv.st.LastError = errText
	}
	close(s.changed)
	s.changed = make(chan struct{})
	select {
	case s.events <- Event{Time: now, Service: sv.spec.Name, State: st, PID: pid, Delay: delay, Err: errText}:
	default:
	}
}

func (s *Supervisor) set(sv *service, st State, pid int, errText string, delay time.Duration) {
	s.mu.Lock()
	s.setLocked(sv, st, pid, errText, delay)
	s.mu.Unlock()
}

// SetUsers replaces the users and groups that resolve services' User for
// services started from now on (a switch brings the new image's accounts).
func (s *Supervisor) SetUsers(users []imagespec.User, groups []imagespec.Group) {
	s.mu.Lock()
	s.o.Users, s.o.Groups = users, groups
	s.mu.Unlock()
}

// Limits says what enforces the services' limits: the cgroup v2
// subtree, or the rlimit fallback and why.
func (s *Supervisor) Limits() string {
	if s.o.Cgroup != nil {
		return EnforcedByCgroup + " " + s.o.Cgroup.Dir
	}
	why := ""
	if s.o.NoCgroup != nil {
		why = ": " + s.o.NoCgroup.Error()
	}
	return EnforcedByRlimit + " (RLIMIT_AS, RLIMIT_NPROC; cpu and io weights not enforced)" + why
}

// Status returns a snapshot of every service, in the order they were first
// started.
func (s *Supervisor) Status() []ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServiceStatus, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.svcs[n].st)
	}
	return out
}

// Services returns the definitions of the supervised services.
func (s *Supervisor) Services() []imagespec.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]imagespec.Service, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.svcs[n].spec)
	}
	return out
}

// names returns names, or every service when names is empty, checking each
// exists. s.mu is held.
func (s *Supervisor) namesLocked(names []string) ([]string, error) {
	if len(names) == 0 {
		return slices.Clone(s.order), nil
	}
	for _, n := range names {
		if s.svcs[n] == nil {
			return nil, fmt.Errorf("service %q: %w", n, ErrUnknownService)
		}
	}
	return names, nil
}
