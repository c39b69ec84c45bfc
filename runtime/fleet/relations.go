package fleet

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
)

// Peer is one provider a relation lists: a live, healthy member of the
// required role that provides the required name.
type Peer struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Addr is HOST:PORT.
func (p Peer) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// String is Addr, so `{{range peers "backends"}}{{.}}{{end}}` writes
// host:port.
func (p Peer) String() string { return p.Addr() }

// PeersOf returns the providers of req among members, sorted by name:
// alive, of req.Role, announcing req.Provides, and not unhealthy or in
// the middle of a switch.
func PeersOf(members []Member, req imagespec.Require) []Peer {
	var out []Peer
	for _, m := range members {
		port, ok := m.Provides[req.Provides]
		if !ok || m.Status != "alive" || m.Role != req.Role || m.Health == HealthDown || m.Switch == Switching {
			continue
		}
		out = append(out, Peer{Name: m.Name, Host: m.Host(), Port: port})
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Peers returns the live, healthy providers of the current image's
// [requires.NAME], sorted by name. A relation the current image does not
// declare lists no peers: templates are rendered for an image before it
// becomes current (a switch), and the agent renders them again once it is.
func (a *Agent) Peers(name string) ([]Peer, error) {
	if a.serf.Load() == nil {
		// Templates rendered as the daemon starts, before the agent has
		// joined: no peer is known yet. The agent re-renders once some are.
		return []Peer{}, nil
	}
	a.mu.Lock()
	req, ok := a.requires[name]
	a.mu.Unlock()
	if !ok {
		return []Peer{}, nil
	}
	ps := PeersOf(a.Members(false), req)
	if ps == nil {
		ps = []Peer{}
	}
	return ps, nil
}

// peersKey sums up the providers of every relation the node's role
// requires: what its templates would see.
func (a *Agent) peersKey() string {
	a.mu.Lock()
	reqs := maps.Clone(a.requires)
	a.mu.Unlock()
	names := slices.Sorted(maps.Keys(reqs))
	members := a.Members(false)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name + "=")
		for _, p := range PeersOf(members, reqs[name]) {
			b.WriteString(p.Name + "@" + p.Addr() + ",")
		}
		b.WriteString(";")
	}
	return b.String()
}

// reconfigurer is a Host that re-renders its templates (node.Node).
type reconfigurer interface {
	Reconfigure(ctx context.Context) (*node.Plan, error)
}

// rerender re-renders the node's templates whenever the providers of one
// of its relations change, until ctx ends.
func (a *Agent) rerender(ctx context.Context, log *slog.Logger) {
	rc, ok := a.host.(reconfigurer)
	if !ok {
		return
	}
	changed := a.Watch(ctx)
	last := a.peersKey()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		key := a.peersKey()
		if key == last {
			continue
		}
		a.mu.Lock()
		hasRelations := len(a.requires) > 0
		a.mu.Unlock()
		if !hasRelations {
			last = key
			continue
		}
		if _, err := rc.Reconfigure(ctx); err != nil {
			log.Warn("re-rendering templates after the peers changed", "err", err)
			continue // try again at the next change
		}
		log.Info("peers changed: templates re-rendered", "peers", key)
		last = key
	}
}

// Funcs is the template functions the fleet adds to a node's templates
// (render.WithFuncs): `peers "NAME"`. The agent re-renders the node's
// templates when the providers change.
func (a *Agent) Funcs() map[string]any {
	return map[string]any{"peers": a.Peers}
}

// imageSource is a Host that can say what its current image declares.
type imageSource interface {
	CurrentImage() (*imagespec.Image, error)
}

// nodeHost is a *node.Node as the agent's Host.
type nodeHost struct{ *node.Node }

func (h nodeHost) TrimMemory() { node.TrimMemory() }

func (h nodeHost) CurrentImage() (*imagespec.Image, error) {
	img, err := h.Store().Current()
	if err != nil {
		return nil, err
	}
	return img.Meta, nil
}
