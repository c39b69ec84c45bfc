package fleet

import (
	"fmt"
	"strings"
	"testing"
)

func digestN(n int) string { return "sha256:" + strings.Repeat(fmt.Sprint(n%10), 64) }

func TestDecide(t *testing.T) {
	target := digestN(2)
	old := digestN(1)
	mk := func(n int, f func(i int, m *Member)) []Member {
		var ms []Member
		for i := range n {
			m := Member{Name: fmt.Sprintf("n%02d", i), Status: "alive", Announce: Announce{Role: "web", Image: old, Switch: Steady, Health: HealthOK}}
			if f != nil {
				f(i, &m)
			}
			ms = append(ms, m)
		}
		return ms
	}
	tgt := Target{Role: "web", Ref: "r", Digest: target, MaxUnavailable: 2, Serial: 7}
	tgt8 := tgt
	tgt8.Serial = 8
	order := Order(target, mk(6, nil))
	pos := func(k int) string { return order[k].Name } // k-th in rollout order
	byName := func(ms []Member, name string) *Member {
		for i := range ms {
			if ms[i].Name == name {
				return &ms[i]
			}
		}
		panic(name)
	}
	forget := func(name string) string {
		return "; failed: " + name + " ('undistro fleet forget NAME' drops a node gone for good)"
	}
	tests := []struct {
		name    string
		target  Target
		members func() []Member
		self    string
		want    Decision
	}{
		{"first in order goes", tgt, func() []Member { return mk(6, nil) }, pos(0), Decision{Switch: true, Reason: "my turn"}},
		{"second goes with max 2", tgt, func() []Member { return mk(6, nil) }, pos(1), Decision{Switch: true, Reason: "my turn"}},
		{"third waits for the window", tgt, func() []Member { return mk(6, nil) }, pos(2), Decision{Reason: "waiting: 2 ahead not done"}},
		{"third goes once the first is done", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Image = target
			return ms
		}, pos(2), Decision{Switch: true, Reason: "my turn"}},
		{"done but unhealthy still counts ahead", tgt, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(0))
			m.Image, m.Health = target, HealthDown
			return ms
		}, pos(2), Decision{Reason: "waiting: 2 ahead not done"}},
		{"max switching reached", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Image = target
			byName(ms, pos(3)).Switch = Switching // a lagging view elsewhere
			byName(ms, pos(1)).Switch = Switching
			return ms
		}, pos(2), Decision{Reason: "waiting: 2 of the role switching"}},
		{"already on target", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(4)).Image = target
			return ms
		}, pos(4), Decision{Done: true, Reason: "runs 222222222222"}},
		{"halted by a rollback", tgt, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(0))
			m.Switch, m.Refused, m.RefusedSerial = RolledBack, target, 7
			return ms
		}, pos(1), Decision{Halted: true, Reason: "halted: " + pos(0) + " rolledback from 222222222222"}},
		{"publishing the digest again retries", tgt8, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(0))
			m.Switch, m.Refused, m.RefusedSerial = RolledBack, target, 7
			return ms
		}, pos(0), Decision{Switch: true, Reason: "my turn"}},
		{"a refusal halts too", tgt, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(5))
			m.Switch, m.Refused, m.RefusedSerial = Refused, target, 7
			return ms
		}, pos(0), Decision{Halted: true, Reason: "halted: " + pos(5) + " refused from 222222222222"}},
		{"rollback from another digest does not halt", tgt, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(3))
			m.Switch, m.Refused = RolledBack, old
			return ms
		}, pos(0), Decision{Switch: true, Reason: "my turn"}},
		{"canary goes alone", Target{Role: "web", Ref: "r", Digest: target, MaxUnavailable: 3, Canary: 1}, func() []Member { return mk(6, nil) }, pos(0), Decision{Switch: true, Reason: "my turn"}},
		{"others wait for the canary", Target{Role: "web", Ref: "r", Digest: target, MaxUnavailable: 3, Canary: 1}, func() []Member { return mk(6, nil) }, pos(1), Decision{Reason: "waiting for canary " + pos(0)}},
		{"after the canary, max 3", Target{Role: "web", Ref: "r", Digest: target, MaxUnavailable: 3, Canary: 1}, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Image = target
			return ms
		}, pos(3), Decision{Switch: true, Reason: "my turn"}},
		{"other roles and members that left do not count", tgt, func() []Member {
			ms := mk(6, func(i int, m *Member) {
				if i%2 == 0 {
					m.Role = "lb"
				}
			})
			for i := range ms {
				if ms[i].Name == pos(0) {
					ms[i].Status = "left"
				}
			}
			return ms
		}, "n05", Decision{Switch: true, Reason: "my turn"}},
		{"a failed member ahead is not done", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Status = "failed"
			return ms
		}, pos(2), Decision{Reason: "waiting: 2 ahead not done" + forget(pos(0))}},
		{"a failed member behind is unavailable", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(4)).Status = "failed" // maybe switching, unheard
			byName(ms, pos(3)).Switch = Switching
			return ms
		}, pos(0), Decision{Reason: "waiting: 2 of the role unavailable (1 switching)" + forget(pos(4))}},
		{"a failed member still switching counts once", tgt, func() []Member {
			ms := mk(6, nil)
			m := byName(ms, pos(4))
			m.Status, m.Switch = "failed", Switching
			return ms
		}, pos(0), Decision{Switch: true, Reason: "my turn"}},
		{"a failed canary holds the rest", Target{Role: "web", Ref: "r", Digest: target, MaxUnavailable: 3, Canary: 1}, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Status = "failed"
			return ms
		}, pos(1), Decision{Reason: "waiting for canary " + pos(0) + forget(pos(0))}},
		{"a failed member does not decide for itself", tgt, func() []Member {
			ms := mk(6, nil)
			byName(ms, pos(0)).Status = "failed"
			return ms
		}, pos(0), Decision{Reason: "not a live member of role web"}},
		{"not in the role", tgt, func() []Member { return mk(3, nil) }, "elsewhere", Decision{Reason: "not a live member of role web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.target, tc.self, tc.members())
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOrderIsDeterministicAndPerDigest(t *testing.T) {
	var ms []Member
	for i := range 20 {
		ms = append(ms, Member{Name: fmt.Sprintf("n%02d", i)})
	}
	names := func(ms []Member) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Name)
		}
		return strings.Join(s, ",")
	}
	a := names(Order(digestN(1), ms))
	rev := make([]Member, len(ms))
	for i, m := range ms {
		rev[len(ms)-1-i] = m
	}
	if b := names(Order(digestN(1), rev)); a != b {
		t.Errorf("order depends on input order:\n%s\n%s", a, b)
	}
	if c := names(Order(digestN(2), ms)); a == c {
		t.Errorf("two digests give the same order %s", a)
	}
}

func TestTargetValidate(t *testing.T) {
	good := Target{Role: "web", Ref: "oci:x:web", Digest: digestN(1), MaxUnavailable: 1}
	tests := []struct {
		name string
		edit func(*Target)
		want string
	}{
		{"good", func(*Target) {}, ""},
		{"no role", func(t *Target) { t.Role = "" }, "empty role"},
		{"no ref", func(t *Target) { t.Ref = "" }, "empty image reference"},
		{"bad digest", func(t *Target) { t.Digest = "sha256:abc" }, `digest "sha256:abc"`},
		{"zero max", func(t *Target) { t.MaxUnavailable = 0 }, "--max-unavailable 0"},
		{"negative canary", func(t *Target) { t.Canary = -1 }, "--canary -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := good
			tc.edit(&tg)
			err := tg.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
