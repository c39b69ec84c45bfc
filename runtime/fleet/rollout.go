package fleet

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Target is a rollout: the role's nodes are to run Ref, which must
// resolve to Digest. It travels as a serf user event; Serial is the
// event's Lamport time, so the newest target of a role wins everywhere.
type Target struct {
	Role   string `json:"role"`
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	// MaxUnavailable is how many of the role's nodes may switch at once
	// (at least 1).
	MaxUnavailable int `json:"maxUnavailable"`
	// Canary is how many nodes switch (and become ready) before the rest
	// may start.
	Canary int    `json:"canary,omitempty"`
	Serial uint64 `json:"serial,omitempty"`
}

// eventRollout is the user event name a Target is published under.
const eventRollout = "rollout"

// Validate checks a target read from the gossip or the command line.
func (t Target) Validate() error {
	switch {
	case t.Role == "":
		return errors.New("rollout target: empty role")
	case t.Ref == "":
		return errors.New("rollout target: empty image reference")
	case !strings.HasPrefix(t.Digest, "sha256:") || len(t.Digest) != len("sha256:")+64:
		return fmt.Errorf("rollout target: digest %q is not sha256:<64 hex>", t.Digest)
	case t.MaxUnavailable < 1:
		return fmt.Errorf("rollout target: --max-unavailable %d, want at least 1", t.MaxUnavailable)
	case t.Canary < 0:
		return fmt.Errorf("rollout target: --canary %d, want 0 or more", t.Canary)
	}
	return nil
}

func decodeTarget(b []byte) (Target, error) {
	var t Target
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("decoding rollout target: %w", err)
	}
	return t, t.Validate()
}

// Decision is what Decide tells a node to do about a target.
type Decision struct {
	// Switch: this node's turn has come.
	Switch bool `json:"switch"`
	// Done: the node runs the target.
	Done bool `json:"done"`
	// Halted: a member rolled back from (or refused) the target; nobody
	// else switches to it.
	Halted bool   `json:"halted"`
	Reason string `json:"reason"`
}

// Order returns the role's members in the order a rollout of digest
// takes them: by a hash of the digest and the name, so every node
// computes the same order and each rollout picks other canaries.
func Order(digest string, members []Member) []Member {
	key := func(m Member) string {
		h := sha256.Sum256([]byte(digest + "\x00" + m.Name))
		return string(h[:]) + m.Name
	}
	out := slices.Clone(members)
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(key(a), key(b)) })
	return out
}

// refused reports whether m rolled back from or refused t (this rollout
// of its digest).
func (m Member) refused(t Target) bool {
	return m.Refused == t.Digest && m.RefusedSerial == t.Serial && (m.Switch == RolledBack || m.Switch == Refused)
}

// done reports whether m runs digest, settled and healthy.
func done(m Member, digest string) bool {
	return m.Image == digest && m.Switch == Steady && m.Health != HealthDown
}

// Decide says whether self may switch to t now, from the members this
// node sees (every status; self among them). The rules:
//
//   - a node already on the digest is done;
//   - if any member of the role rolled back from or refused the digest in
//     this rollout, the rollout is halted (publishing the digest again is
//     a new rollout, with a new serial: the nodes try again);
//   - members of the role, alive or failed, are ordered (Order); the first
//     Canary of them go first, and the others wait until every canary is
//     done;
//   - a node may switch only when fewer than MaxUnavailable members
//     ahead of it in the order are not done, and fewer than
//     MaxUnavailable others are unavailable: switching, or failed.
//
// A member only announces done once it is, so a view that lags shows
// fewer members done than there are: the node waits longer, never
// switches early. A failed member is unavailable, and may be a live node
// this one cannot hear (a loaded host, a partition) in the middle of its
// switch, so it counts against MaxUnavailable and is never done. Hence at
// most MaxUnavailable nodes switch at once. A member that left gracefully
// does not count; one that died for good holds the rollout until it is
// reaped or forgotten ('undistro fleet forget').
func Decide(t Target, self string, members []Member) Decision {
	var role []Member
	for _, m := range members {
		if m.Role == t.Role && (m.Status == "alive" || m.Status == "failed" || m.Name == self) {
			role = append(role, m)
		}
	}
	order := Order(t.Digest, role)
	me := slices.IndexFunc(order, func(m Member) bool { return m.Name == self })
	if me < 0 || order[me].Status != "alive" {
		return Decision{Reason: "not a live member of role " + t.Role}
	}
	for _, m := range order {
		if m.refused(t) {
			return Decision{Halted: true, Done: order[me].Image == t.Digest, Reason: fmt.Sprintf("halted: %s %s from %s", m.Name, m.Switch, short(t.Digest))}
		}
	}
	if order[me].Image == t.Digest {
		return Decision{Done: true, Reason: "runs " + short(t.Digest)}
	}
	if me >= t.Canary {
		for _, m := range order[:min(t.Canary, len(order))] {
			if !done(m, t.Digest) {
				var note string
				if m.Status == "failed" {
					note = failedNote([]string{m.Name})
				}
				return Decision{Reason: "waiting for canary " + m.Name + note}
			}
		}
	}
	switching, ahead := 0, 0
	var failed, failedAhead []string
	for i, m := range order {
		if i == me {
			continue
		}
		if m.Status == "failed" {
			failed = append(failed, m.Name)
			if i < me {
				failedAhead = append(failedAhead, m.Name)
			}
		} else if m.Switch == Switching {
			switching++
		}
		if i < me && !done(m, t.Digest) {
			ahead++
		}
	}
	if n := switching + len(failed); n >= t.MaxUnavailable {
		if len(failed) == 0 {
			return Decision{Reason: fmt.Sprintf("waiting: %d of the role switching", n)}
		}
		return Decision{Reason: fmt.Sprintf("waiting: %d of the role unavailable (%d switching)", n, switching) + failedNote(failed)}
	}
	if ahead >= t.MaxUnavailable {
		return Decision{Reason: fmt.Sprintf("waiting: %d ahead not done", ahead) + failedNote(failedAhead)}
	}
	return Decision{Switch: true, Reason: "my turn"}
}

// failedNote names the failed members a decision waits for and what to
// do about one that is gone for good.
func failedNote(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("; failed: %s ('undistro fleet forget NAME' drops a node gone for good)", strings.Join(names, ", "))
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}
