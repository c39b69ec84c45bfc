package fleet

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/supervise"
)

// Host is the node an agent speaks for; *node.Node is one.
type Host interface {
	Root() string
	Status(ctx context.Context) (*node.Status, error)
	Switch(ctx context.Context, ref string, o node.SwitchOptions) (*node.Plan, error)
	Verify(ctx context.Context, ref string, o node.Admit) (digest, role string, err error)
	// Changed returns a channel closed at the node's next change of
	// state (node.Node.Changed): the agent reads Status then, never on a
	// timer.
	Changed() <-chan struct{}
}

var _ Host = (*node.Node)(nil)

// Timing names a set of gossip timers.
type Timing string

// Timings.
const (
	// TimingLAN is memberlist's LAN profile: failure detection in a few
	// seconds, cheap enough for hundreds of nodes.
	TimingLAN Timing = "lan"
	// TimingLocal is memberlist's loopback profile: faster probes and
	// gossip, for tests and one-host fleets.
	TimingLocal Timing = "local"
)

// Config configures an Agent.
type Config struct {
	// Name is the member's name, unique in the fleet (default: hostname).
	Name string
	// Bind is the gossip address, IP:PORT (UDP and TCP); port 0 picks one.
	// It must be an IP the other members reach (it is also advertised).
	Bind string
	// Join are members to join through, HOST:PORT; empty starts a fleet.
	Join []string
	// Key is the fleet's shared key (LoadKey). Required: the gossip is
	// encrypted and authenticated, and a node without it cannot join.
	Key []byte
	// Tags are the node's own tags, announced to the fleet.
	Tags []string
	// Role is announced while the node runs no image (so an empty node
	// can join a role's rollout); otherwise the image's role is.
	Role string
	// Timing picks the gossip timers (default TimingLAN).
	Timing Timing
	// Version is the undistro version the "version" question answers.
	Version string
	// Answers adds or replaces questions Query can ask this node (the
	// built-in ones are status and version).
	Answers map[string]func(ctx context.Context) (any, error)
	// Provides maps what this node provides to its port (announced so
	// that peers' templates can find it).
	Provides map[string]int
}

// Agent is a node's fleet membership: the serf member, its announcement
// and the rollouts it follows.
type Agent struct {
	cfg  Config
	serf atomic.Pointer[serf.Serf]
	tr   *countingTransport
	host Host
	log  *slog.Logger // Run's ctx's logger, set before Run starts anything

	mu        sync.Mutex
	self      Announce
	switching bool
	targets   map[string]Target // by role
	requires  map[string]imagespec.Require
	watchers  []chan struct{}

	// announceMu serialises announcements: serf's SetTags must not run
	// concurrently, and the last state read is the last one sent.
	announceMu sync.Mutex

	kick    chan struct{}
	ready   chan struct{} // closed once the serf member exists
	stopped chan struct{}
}

// New checks cfg and returns an agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if cfg.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("fleet member name: %w", err)
		}
		cfg.Name = h
	}
	if len(cfg.Key) == 0 {
		return nil, errors.New("joining a fleet needs its key (--fleet-key FILE): the gossip is always encrypted; write one with `undistro fleet keygen -o FILE` and give every node a copy")
	}
	if n := len(cfg.Key); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("fleet key: %d bytes, want 16, 24 or 32: write one with `undistro fleet keygen -o FILE`", n)
	}
	host, port, err := net.SplitHostPort(cfg.Bind)
	if err != nil || net.ParseIP(host) == nil {
		return nil, fmt.Errorf("fleet address %q: want IP:PORT (the address other members reach this node at)", cfg.Bind)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("fleet address %q: bad port", cfg.Bind)
	}
	switch cfg.Timing {
	case "":
		cfg.Timing = TimingLAN
	case TimingLAN, TimingLocal:
	default:
		return nil, fmt.Errorf("fleet timing %q: want lan or local", cfg.Timing)
	}
	if _, err := (Announce{Tags: cfg.Tags, Provides: cfg.Provides}).tags(); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, targets: map[string]Target{}, kick: make(chan struct{}, 1),
		ready: make(chan struct{}), stopped: make(chan struct{})}, nil
}

// Name returns the member's name.
func (a *Agent) Name() string { return a.cfg.Name }

// Addr returns the gossip address the member advertises, once running.
func (a *Agent) Addr() string {
	s := a.serf.Load()
	if s == nil {
		return ""
	}
	m := s.LocalMember()
	return net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
}

func (a *Agent) memberlistConfig(logger *log.Logger) (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	if a.cfg.Timing == TimingLocal {
		mc = memberlist.DefaultLocalConfig()
		// Loopback drops nothing, but a loaded test host delays: retransmit
		// more and sync state every few seconds so no member is missed long.
		mc.RetransmitMult = 4
		mc.PushPullInterval = 5 * time.Second
		mc.ProbeTimeout = 500 * time.Millisecond // a busy host's answer is late, not lost
	}
	host, port, _ := net.SplitHostPort(a.cfg.Bind)
	p, _ := strconv.Atoi(port)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: p, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("listening for the fleet on %s: %w", a.cfg.Bind, err)
	}
	a.tr = newCountingTransport(nt)
	mc.Transport = a.tr
	mc.BindAddr, mc.BindPort = host, nt.GetAutoBindPort()
	mc.AdvertiseAddr, mc.AdvertisePort = host, nt.GetAutoBindPort()
	mc.SecretKey = a.cfg.Key
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Logger = logger
	return mc, nil
}

// Run joins the fleet and follows it until ctx ends, then leaves
// gracefully (the others drop this member at once).
func (a *Agent) Run(ctx context.Context, h Host) error {
	defer close(a.stopped)
	a.host = h
	a.log = logctx.From(ctx)
	log := a.log.With("fleet", a.cfg.Name)
	logger := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	if err := a.loadTargets(); err != nil {
		log.Warn("forgetting the rollouts this node followed", "err", err)
	}
	a.refresh(ctx)
	mc, err := a.memberlistConfig(logger)
	if err != nil {
		return err
	}
	events := make(chan serf.Event, 256)
	sc := serf.DefaultConfig()
	sc.NodeName = a.cfg.Name
	sc.MemberlistConfig = mc
	sc.Logger = logger
	sc.EventCh = events
	sc.UserEventSizeLimit = 1024
	if a.cfg.Timing == TimingLocal {
		sc.ReapInterval = time.Second
		sc.TombstoneTimeout = time.Minute
	}
	a.mu.Lock()
	sc.Tags, err = a.self.tags()
	a.mu.Unlock()
	if err != nil {
		mc.Transport.Shutdown()
		return err
	}
	s, err := serf.Create(sc)
	if err != nil {
		mc.Transport.Shutdown()
		return fmt.Errorf("starting fleet member %s on %s: %w", a.cfg.Name, a.cfg.Bind, err)
	}
	a.serf.Store(s)
	close(a.ready)
	log.Info("fleet member running", "addr", a.Addr())
	defer func() {
		if err := s.Leave(); err != nil {
			log.Warn("leaving the fleet", "err", err)
		}
		_ = s.Shutdown()
	}()
	go a.join(ctx, s, log)
	go a.rerender(ctx, log)

	// The node says when its state changes (a switch, a service's
	// state); the fleet says when members change (serf's events): no
	// polling.
	changed := a.changes()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			a.handle(ctx, ev, log)
		case <-changed:
			changed = a.changes()
			a.reconcile(ctx, log)
		case <-a.kick:
			a.reconcile(ctx, log)
		}
	}
}

// join joins through the seeds, retrying until one answers.
func (a *Agent) join(ctx context.Context, s *serf.Serf, log *slog.Logger) {
	if len(a.cfg.Join) == 0 {
		return
	}
	delay := 200 * time.Millisecond
	for {
		// ignoreOld=false: the seeds replay recent rollouts, so a node that
		// joins late learns its role's target.
		n, err := s.Join(a.cfg.Join, false)
		if err == nil && n > 0 {
			log.Info("joined the fleet", "through", n)
			a.trim()
			return
		}
		log.Warn("joining the fleet", "seeds", a.cfg.Join, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// changes is the host's Changed channel (nil, which never fires, before
// the agent has a host).
func (a *Agent) changes() <-chan struct{} {
	if a.host == nil {
		return nil
	}
	return a.host.Changed()
}

// Kick asks the agent to look at its node and the fleet again now.
func (a *Agent) Kick() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) handle(ctx context.Context, ev serf.Event, log *slog.Logger) {
	switch e := ev.(type) {
	case serf.MemberEvent:
		log.Debug("fleet membership", "event", e.Type.String(), "members", len(e.Members))
		a.notify()
		a.reconcile(ctx, log)
	case serf.UserEvent:
		if e.Name != eventRollout {
			return
		}
		t, err := decodeTarget(e.Payload)
		if err != nil {
			log.Warn("ignoring a rollout event", "err", err)
			return
		}
		t.Serial = uint64(e.LTime)
		if a.setTarget(t) {
			log.Info("rollout target", "role", t.Role, "digest", t.Digest, "ref", t.Ref, "maxUnavailable", t.MaxUnavailable, "canary", t.Canary)
			a.reconcile(ctx, log)
		}
	case *serf.Query:
		a.answer(ctx, e, log)
	}
}

// setTarget keeps t if it is newer than the role's known target.
func (a *Agent) setTarget(t Target) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.targets[t.Role]; ok && old.Serial >= t.Serial {
		return false
	}
	a.targets[t.Role] = t
	if err := a.saveTargetsLocked(); err != nil {
		a.log.Warn("recording the rollout target", "err", err)
	}
	return true
}

// refresh reads the node's status into the announcement (unless a switch
// is under way, which owns the switch state) and reports whether it
// changed.
func (a *Agent) refresh(ctx context.Context) bool {
	st, err := a.host.Status(ctx)
	if err != nil {
		logctx.From(ctx).Warn("reading the node's status for the fleet", "err", err)
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.self
	if next.Switch == "" {
		next.Switch = Steady
	}
	next.Role, next.Image = a.cfg.Role, ""
	if st.Current != nil {
		next.Image = st.Current.Digest
		if st.Current.Role != "" {
			next.Role = st.Current.Role
		}
	}
	next.Health = health(st.Services)
	next.Tags, next.Provides = a.cfg.Tags, a.cfg.Provides
	if src, ok := a.host.(imageSource); ok && st.Current != nil {
		if meta, err := src.CurrentImage(); err == nil && meta != nil {
			if len(meta.Provides) > 0 {
				next.Provides = maps.Clone(a.cfg.Provides)
				if next.Provides == nil {
					next.Provides = map[string]int{}
				}
				for name, p := range meta.Provides {
					next.Provides[name] = p.Port
				}
			}
			a.requires = meta.Requires
		}
	}
	changed := !sameAnnounce(next, a.self)
	a.self = next
	return changed
}

func sameAnnounce(x, y Announce) bool {
	xt, _ := x.tags()
	yt, _ := y.tags()
	return fmt.Sprint(xt) == fmt.Sprint(yt)
}

// health sums up the services' states.
func health(svcs []supervise.ServiceStatus) string {
	if len(svcs) == 0 {
		return HealthNone
	}
	for _, s := range svcs {
		if s.State != supervise.StateReady && s.State != supervise.StateRunning {
			return HealthDown
		}
	}
	return HealthOK
}

// announce publishes the announcement if the member exists.
func (a *Agent) announce() {
	s := a.serf.Load()
	if s == nil {
		return
	}
	a.announceMu.Lock()
	defer a.announceMu.Unlock()
	a.mu.Lock()
	tags, err := a.self.tags()
	a.mu.Unlock()
	if err == nil {
		err = s.SetTags(tags)
	}
	if err != nil {
		a.log.Warn("announcing to the fleet", "err", err)
	}
}

// reconcile refreshes the announcement and takes this node's turn in its
// role's rollout when it has come.
func (a *Agent) reconcile(ctx context.Context, log *slog.Logger) {
	a.mu.Lock()
	busy := a.switching
	a.mu.Unlock()
	if busy {
		return
	}
	if a.refresh(ctx) {
		a.announce()
		a.notify()
	}
	a.mu.Lock()
	t, ok := a.targets[a.self.Role]
	a.mu.Unlock()
	if !ok || a.serf.Load() == nil {
		return
	}
	d := Decide(t, a.cfg.Name, a.view())
	if !d.Switch {
		return
	}
	a.mu.Lock()
	a.switching = true
	a.self.Switch = Switching
	a.mu.Unlock()
	a.announce()
	log.Info("switching: my turn in the rollout", "role", t.Role, "digest", t.Digest)
	go a.switchTo(ctx, t, log)
}

// switchTo switches the node to t through the node's own verification
// (signature, SBOM, role and the pinned digest) and announces the result.
func (a *Agent) switchTo(ctx context.Context, t Target, log *slog.Logger) {
	_, err := a.host.Switch(ctx, t.Ref, node.SwitchOptions{Admit: node.Admit{Role: t.Role, Digest: t.Digest}})
	a.mu.Lock()
	switch {
	case err == nil:
		a.self.Switch, a.self.Refused, a.self.RefusedSerial = Steady, "", 0
	case errors.Is(err, node.ErrRolledBack):
		a.self.Switch, a.self.Refused, a.self.RefusedSerial = RolledBack, t.Digest, t.Serial
	default:
		a.self.Switch, a.self.Refused, a.self.RefusedSerial = Refused, t.Digest, t.Serial
	}
	a.switching = false
	a.mu.Unlock()
	if err != nil {
		log.Warn("rollout switch failed; announcing it so the role stops", "digest", t.Digest, "err", err)
	} else {
		log.Info("rollout switch done", "digest", t.Digest)
	}
	a.refresh(ctx)
	a.announce()
	a.notify()
	a.Kick()
	a.trim()
}

// trim gives back memory a start-up or switch paged in, when the host
// can (node.TrimMemory).
func (a *Agent) trim() {
	if t, ok := a.host.(interface{ TrimMemory() }); ok {
		t.TrimMemory()
	}
}

// view is what a rollout decision reads: every member serf knows, with
// this node's own announcement as it last made it rather than serf's view
// of it. That view lags a switch's end (the tags travel through
// memberlist), and a node that saw itself still on the old image switched
// a second time, beyond the role's max-unavailable.
func (a *Agent) view() []Member {
	members := a.Members(true)
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range members {
		if members[i].Name == a.cfg.Name {
			members[i].Announce = a.self
		}
	}
	return members
}

// Members returns the fleet as this node sees it, sorted by name; all
// includes members that left or failed (until serf reaps them).
func (a *Agent) Members(all bool) []Member {
	s := a.serf.Load()
	if s == nil {
		return nil
	}
	var out []Member
	for _, m := range s.Members() {
		st := m.Status.String()
		if !all && st != "alive" {
			continue
		}
		out = append(out, Member{Name: m.Name, Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))), Status: st, Announce: announceOf(m.Tags)})
	}
	slices.SortFunc(out, func(x, y Member) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return out
}

// Traffic returns the gossip's byte counts so far.
func (a *Agent) Traffic() Traffic {
	if a.tr == nil {
		return Traffic{}
	}
	return a.tr.traffic()
}

// Watch returns a channel that receives (coalesced) when the membership
// or a member's announcement changes, until ctx ends.
func (a *Agent) Watch(ctx context.Context) <-chan struct{} {
	c := make(chan struct{}, 1)
	a.mu.Lock()
	a.watchers = append(a.watchers, c)
	a.mu.Unlock()
	context.AfterFunc(ctx, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.watchers = slices.DeleteFunc(a.watchers, func(w chan struct{}) bool { return w == c })
	})
	return c
}

func (a *Agent) notify() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.watchers {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
