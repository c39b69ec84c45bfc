package fleet

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/template"

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

// ErrNoRelation: the node's role declares no such [requires.NAME].
var ErrNoRelation = errors.New("no such relation")

// Peers returns the live, healthy providers of the current image's
// [requires.NAME], sorted by name.
func (a *Agent) Peers(name string) ([]Peer, error) {
	a.mu.Lock()
	req, ok := a.requires[name]
	a.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("peers %q: %w: the node's role declares no [requires.%s]", name, ErrNoRelation, name)
	}
	return PeersOf(a.Members(false), req), nil
}

// Funcs is the template functions the fleet adds to a node's templates:
// `peers "NAME"`. A renderer re-renders when Watch fires.
func (a *Agent) Funcs() template.FuncMap {
	return template.FuncMap{"peers": a.Peers}
}

// imageSource is a Host that can say what its current image declares.
type imageSource interface {
	CurrentImage() (*imagespec.Image, error)
}

// nodeHost is a *node.Node as the agent's Host.
type nodeHost struct{ *node.Node }

func (h nodeHost) CurrentImage() (*imagespec.Image, error) {
	img, err := h.Store().Current()
	if err != nil {
		return nil, err
	}
	return img.Meta, nil
}
