package fleet

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"
)

// SwitchState is where a node is in a switch, as it announces it.
type SwitchState string

// Switch states.
const (
	// Steady: not switching; the node runs Announce.Image.
	Steady SwitchState = "steady"
	// Switching: a switch (and its health gate) is under way.
	Switching SwitchState = "switching"
	// RolledBack: the switch to Announce.Refused failed its health gate
	// and the node went back.
	RolledBack SwitchState = "rolledback"
	// Refused: the node would not switch to Announce.Refused at all (its
	// trust policy refused the image, or it could not be fetched).
	Refused SwitchState = "refused"
)

// Health of a node's services, as it announces it.
const (
	HealthOK   = "ok"   // every service is ready
	HealthDown = "down" // some service is not
	HealthNone = "none" // the image runs no service
)

// Announce is what a node tells the fleet about itself in its member
// tags. It is gossip: a member may claim anything, so nothing is trusted
// for what it says beyond choosing whom to ask or wait for.
type Announce struct {
	Role   string      `json:"role,omitempty"`
	Image  string      `json:"image,omitempty"` // current image digest
	Switch SwitchState `json:"switch"`
	// Refused is the digest the node rolled back from or refused, in the
	// rollout whose serial is RefusedSerial (publishing the digest again
	// is a new rollout: the node tries again).
	Refused       string   `json:"refused,omitempty"`
	RefusedSerial uint64   `json:"refusedSerial,omitempty"`
	Health        string   `json:"health"`
	Tags          []string `json:"tags,omitempty"`
	// Provides maps what the node provides (a role's [provides.NAME]) to
	// its port.
	Provides map[string]int `json:"provides,omitempty"`
}

// Tag keys. Short: serf's tags share memberlist's 512-byte meta limit.
const (
	tagRole     = "r"
	tagImage    = "i"
	tagSwitch   = "s"
	tagRefused  = "x"
	tagHealth   = "h"
	tagTags     = "t"
	tagProvides = "p"
)

// tags encodes a as serf member tags; it fails when they would not fit
// memberlist's meta limit, naming what to shorten.
func (a Announce) tags() (map[string]string, error) {
	m := map[string]string{tagSwitch: string(a.Switch), tagHealth: a.Health}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set(tagRole, a.Role)
	set(tagImage, strings.TrimPrefix(a.Image, "sha256:"))
	if a.Refused != "" {
		set(tagRefused, strings.TrimPrefix(a.Refused, "sha256:")+"@"+strconv.FormatUint(a.RefusedSerial, 10))
	}
	set(tagTags, strings.Join(a.Tags, ","))
	var prov []string
	for name, port := range a.Provides {
		prov = append(prov, fmt.Sprintf("%s:%d", name, port))
	}
	slices.Sort(prov)
	set(tagProvides, strings.Join(prov, ","))
	// serf encodes tags as a msgpack map: a few bytes of framing per
	// string on top of the strings themselves.
	size := 3
	for k, v := range m {
		size += len(k) + len(v) + 4
	}
	if size > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("announcing %d bytes of member tags, more than the gossip's %d: use fewer or shorter node tags (%q)", size, memberlist.MetaMaxSize, a.Tags)
	}
	return m, nil
}

// announceOf decodes member tags (what another node claims).
func announceOf(m map[string]string) Announce {
	a := Announce{Role: m[tagRole], Switch: SwitchState(m[tagSwitch]), Health: m[tagHealth]}
	if v := m[tagImage]; v != "" {
		a.Image = "sha256:" + v
	}
	if v := m[tagRefused]; v != "" {
		d, serial, _ := strings.Cut(v, "@")
		a.Refused = "sha256:" + d
		a.RefusedSerial, _ = strconv.ParseUint(serial, 10, 64)
	}
	if v := m[tagTags]; v != "" {
		a.Tags = strings.Split(v, ",")
	}
	if v := m[tagProvides]; v != "" {
		a.Provides = map[string]int{}
		for _, p := range strings.Split(v, ",") {
			name, port, ok := strings.Cut(p, ":")
			var n int
			if _, err := fmt.Sscanf(port, "%d", &n); ok && err == nil && n > 0 && n < 65536 {
				a.Provides[name] = n
			}
		}
	}
	return a
}

// Member is one node as this node sees it.
type Member struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // gossip address, host:port
	// Status is serf's view: alive, leaving, left, failed.
	Status string `json:"status"`
	Announce
}

// Host returns the member's IP address (what its services listen on in
// a fleet on one network).
func (m Member) Host() string {
	h, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return m.Addr
	}
	return h
}

// HasTag reports whether the member announces tag t.
func (m Member) HasTag(t string) bool { return slices.Contains(m.Tags, t) }
