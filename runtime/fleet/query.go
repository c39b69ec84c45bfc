package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/node"
)

// Questions every agent answers.
const (
	QuestionStatus  = "status"
	QuestionVersion = "version"
	QuestionDrift   = "drift"
)

// DriftAnswer is what a node answers to "drift": its config files under
// /etc edited on the node (`node drift` there shows the diffs).
type DriftAnswer struct {
	Count int      `json:"count"`
	Files []string `json:"files,omitempty"` // the first few paths
}

// Question is what Query asks.
type Question struct {
	Name string `json:"name"`
	// Role and Tag, when set, restrict who answers.
	Role string `json:"role,omitempty"`
	Tag  string `json:"tag,omitempty"`
	// Timeout is how long to wait for answers (default: serf's, which
	// grows with the log of the fleet's size).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Answer is one member's answer.
type Answer struct {
	Node   string          `json:"node"`
	Answer json.RawMessage `json:"answer,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Answers is what Query returns: the answers by member name, and the
// members this node expected to answer (alive, matching) that did not.
type Answers struct {
	Question Question `json:"question"`
	Answers  []Answer `json:"answers"`
	Missing  []string `json:"missing"`
	Timeout  string   `json:"timeout"`
}

// filter is the serf tag filter matching q's role and tag.
func (q Question) filter() map[string]string {
	f := map[string]string{}
	if q.Role != "" {
		f[tagRole] = "^" + regexp.QuoteMeta(q.Role) + "$"
	}
	if q.Tag != "" {
		f[tagTags] = "(^|,)" + regexp.QuoteMeta(q.Tag) + "(,|$)"
	}
	return f
}

// matches reports whether m is one of those q asks.
func (q Question) matches(m Member) bool {
	return (q.Role == "" || m.Role == q.Role) && (q.Tag == "" || m.HasTag(q.Tag))
}

// Query asks the matching members q.Name and collects their answers until
// every member it expected (alive and matching when asked) has answered,
// or the timeout. The timeout bounds a query that misses someone; one that
// reaches everyone returns as soon as the last answer arrives.
func (a *Agent) Query(ctx context.Context, q Question) (*Answers, error) {
	s := a.serf.Load()
	if s == nil {
		return nil, errors.New("querying the fleet: the fleet agent is not running yet")
	}
	if q.Name == "" {
		return nil, errors.New("querying the fleet: no question: ask status, version or drift")
	}
	p := s.DefaultQueryParams()
	if q.Timeout > 0 {
		p.Timeout = q.Timeout
	}
	p.FilterTags = q.filter()
	// An answer travels back once, over UDP; have two other members relay
	// a copy too, so one lost packet does not make a member missing.
	// Queries are an operator's, rare: the extra packets cost nothing.
	p.RelayFactor = 2
	want := map[string]bool{}
	for _, m := range a.Members(false) {
		if q.matches(m) {
			want[m.Name] = true
		}
	}
	out := &Answers{Question: q, Answers: []Answer{}, Missing: []string{}, Timeout: p.Timeout.String()}
	got := map[string]bool{}
	deadline := time.Now().Add(p.Timeout)

	// A question travels by gossip, which reaches every member only with
	// high probability; a member that has not answered after a third of
	// the timeout is asked again, by name, twice at most.
	answers := make(chan serf.NodeResponse)
	var (
		wg    sync.WaitGroup
		resps []*serf.QueryResponse
	)
	defer func() {
		for _, r := range resps {
			r.Close() // ends the forwarders' ranges
		}
		wg.Wait()
	}()
	done := make(chan struct{})
	defer close(done)
	ask := func(p *serf.QueryParam) error {
		resp, err := s.Query("q:"+q.Name, nil, p)
		if err != nil {
			return fmt.Errorf("querying the fleet: %w", err)
		}
		resps = append(resps, resp)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range resp.ResponseCh() {
				select {
				case answers <- r:
				case <-done:
					return
				}
			}
		}()
		return nil
	}
	if err := ask(p); err != nil {
		return nil, err
	}
	end := time.NewTimer(p.Timeout)
	defer end.Stop()
	again := time.NewTicker(max(p.Timeout/3, time.Millisecond))
	defer again.Stop()
	retries, have := 0, 0
collect:
	for len(want) == 0 || have < len(want) {
		select {
		case r := <-answers:
			if got[r.From] {
				continue // asked twice, answered twice
			}
			got[r.From] = true
			if want[r.From] {
				have++
			}
			var ans Answer
			if err := json.Unmarshal(r.Payload, &ans); err != nil {
				ans = Answer{Error: "undecodable answer: " + err.Error()}
			}
			ans.Node = r.From
			out.Answers = append(out.Answers, ans)
		case <-again.C:
			var missing []string
			for name := range want {
				if !got[name] {
					missing = append(missing, name)
				}
			}
			if retries == 2 || len(missing) == 0 {
				continue
			}
			retries++
			follow := *p
			follow.FilterNodes, follow.Timeout = missing, time.Until(deadline)
			if follow.Timeout <= 0 {
				continue
			}
			if err := ask(&follow); err != nil {
				a.log.Debug("asking the fleet again", "query", q.Name, "err", err)
			}
		case <-end.C:
			break collect
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, m := range a.Members(false) {
		if q.matches(m) && !got[m.Name] {
			out.Missing = append(out.Missing, m.Name)
		}
	}
	slices.SortFunc(out.Answers, func(x, y Answer) int {
		if x.Node < y.Node {
			return -1
		}
		if x.Node > y.Node {
			return 1
		}
		return 0
	})
	return out, nil
}

// answer responds to a query addressed to this member.
func (a *Agent) answer(ctx context.Context, q *serf.Query, log *slog.Logger) {
	name, ok := cutPrefix(q.Name, "q:")
	if !ok {
		return
	}
	var ans Answer
	fn := a.cfg.Answers[name]
	if fn == nil {
		fn = a.builtin(name)
	}
	if fn == nil {
		ans.Error = fmt.Sprintf("no question %q here", name)
	} else {
		// Answer off the event loop: a slow answer must not stall the
		// gossip's events.
		go func() {
			qctx, cancel := context.WithDeadline(ctx, q.Deadline())
			defer cancel()
			a.respond(q, fn, qctx, log)
		}()
		return
	}
	b, _ := json.Marshal(ans)
	_ = q.Respond(b)
}

func (a *Agent) respond(q *serf.Query, fn func(context.Context) (any, error), ctx context.Context, log *slog.Logger) {
	var ans Answer
	v, err := fn(ctx)
	if err != nil {
		ans.Error = err.Error()
	} else if b, err := json.Marshal(v); err != nil {
		ans.Error = err.Error()
	} else {
		ans.Answer = b
	}
	b, _ := json.Marshal(ans)
	if len(b) > serf.DefaultConfig().QueryResponseSizeLimit {
		b, _ = json.Marshal(Answer{Error: fmt.Sprintf("answer of %d bytes is over the gossip's limit", len(b))})
	}
	if err := q.Respond(b); err != nil {
		log.Debug("answering a fleet query", "query", q.Name, "err", err)
	}
}

// StatusAnswer is what a node answers to "status".
type StatusAnswer struct {
	Announce
	Services []string `json:"services,omitempty"` // "name=state"
	Pending  string   `json:"pending,omitempty"`
	// Rollout is the decision about the role's rollout, if one is known.
	Rollout *Decision `json:"rollout,omitempty"`
}

func (a *Agent) builtin(name string) func(context.Context) (any, error) {
	switch name {
	case QuestionStatus:
		return func(ctx context.Context) (any, error) {
			st, err := a.host.Status(ctx)
			if err != nil {
				return nil, err
			}
			a.mu.Lock()
			ans := StatusAnswer{Announce: a.self}
			t, ok := a.targets[a.self.Role]
			a.mu.Unlock()
			for _, s := range st.Services {
				ans.Services = append(ans.Services, s.Name+"="+string(s.State))
			}
			if st.Pending != nil {
				ans.Pending = st.Pending.To
			}
			if ok {
				d := Decide(t, a.cfg.Name, a.view())
				ans.Rollout = &d
			}
			return ans, nil
		}
	case QuestionDrift:
		return func(ctx context.Context) (any, error) {
			rep, err := node.Drift(node.Config{Root: a.host.Root()})
			if err != nil {
				return nil, err
			}
			ans := DriftAnswer{Count: len(rep.Files)}
			for _, f := range rep.Files {
				if len(ans.Files) == 10 {
					break // an answer must fit the gossip's 1 KiB
				}
				ans.Files = append(ans.Files, f.Path)
			}
			return ans, nil
		}
	case QuestionVersion:
		return func(ctx context.Context) (any, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			return map[string]string{"undistro": a.cfg.Version, "role": a.self.Role, "image": a.self.Image}, nil
		}
	}
	return nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return s, false
	}
	return s[len(p):], true
}

// Publish verifies t.Ref with this node's trust policy (signature, SBOM,
// role t.Role), pins its digest and publishes the target to the fleet.
// It returns at once: the role's nodes take it from there.
func (a *Agent) Publish(ctx context.Context, t Target) (*Target, error) {
	s := a.serf.Load()
	if s == nil {
		return nil, errors.New("publishing a rollout: the fleet agent is not running yet")
	}
	if t.Role == "" {
		return nil, errors.New("publishing a rollout: no role")
	}
	digest, _, err := a.host.Verify(ctx, t.Ref, node.Admit{Role: t.Role, Digest: t.Digest})
	if err != nil {
		return nil, fmt.Errorf("publishing a rollout of %s: %w", t.Ref, err)
	}
	t.Digest = digest
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.Serial = 0
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	if err := s.UserEvent(eventRollout, b, false); err != nil {
		return nil, fmt.Errorf("publishing a rollout of %s: %w", t.Ref, err)
	}
	return &t, nil
}

// RolloutStatus is what `fleet rollout status` shows.
type RolloutStatus struct {
	Role    string   `json:"role"`
	Target  *Target  `json:"target,omitempty"`
	Members []Member `json:"members"`
	// OnTarget counts the members that run the target, settled and
	// healthy; Halted names a member that rolled back from it; Failed
	// names the members that failed (they count as unavailable and hold
	// the nodes after them until they come back or are forgotten).
	OnTarget int      `json:"onTarget"`
	Halted   string   `json:"halted,omitempty"`
	Failed   []string `json:"failed,omitempty"`
}

// Rollout reports role's rollout as this node sees it.
func (a *Agent) Rollout(role string) *RolloutStatus {
	a.mu.Lock()
	t, ok := a.targets[role]
	a.mu.Unlock()
	rs := &RolloutStatus{Role: role, Members: []Member{}}
	if ok {
		rs.Target = &t
	}
	for _, m := range a.Members(true) {
		if m.Role != role || (m.Status != "alive" && m.Status != "failed") {
			continue
		}
		if m.Status == "failed" {
			rs.Failed = append(rs.Failed, m.Name)
		}
		rs.Members = append(rs.Members, m)
		if ok && done(m, t.Digest) {
			rs.OnTarget++
		}
		if ok && m.refused(t) && rs.Halted == "" {
			rs.Halted = m.Name
		}
	}
	return rs
}

// Forget drops name, a member that failed, from the fleet at once (serf's
// force-leave, pruned) instead of waiting for the reaper: a failed member
// counts as unavailable in every rollout of its role, so a node gone for
// good holds the nodes after it. A member this node sees alive is refused:
// it would refute the leave and come back.
func (a *Agent) Forget(name string) error {
	s := a.serf.Load()
	if s == nil {
		return errors.New("forgetting a member: the fleet agent is not running yet")
	}
	ms := a.Members(true)
	i := slices.IndexFunc(ms, func(m Member) bool { return m.Name == name })
	if i < 0 {
		return fmt.Errorf("forgetting %q: no such member (undistro fleet members --all lists them)", name)
	}
	if st := ms[i].Status; st != "failed" {
		return fmt.Errorf("forgetting %q: it is %s, not failed; forget drops only a member that failed (stop its daemon, and it leaves by itself)", name, st)
	}
	if err := s.RemoveFailedNodePrune(name); err != nil {
		return fmt.Errorf("forgetting %q: %w", name, err)
	}
	a.notify()
	a.Kick()
	return nil
}

// targetsFile keeps the rollouts a node follows across restarts.
func (a *Agent) targetsFile() string { return filepath.Join(a.host.Root(), "fleet.json") }

func (a *Agent) loadTargets() error {
	b, err := os.ReadFile(a.targetsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ts map[string]Target
	if err := json.Unmarshal(b, &ts); err != nil {
		return fmt.Errorf("reading %s: %w", a.targetsFile(), err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for role, t := range ts {
		if t.Validate() == nil && t.Role == role {
			a.targets[role] = t
		}
	}
	return nil
}

func (a *Agent) saveTargetsLocked() error {
	b, err := json.MarshalIndent(a.targets, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(a.targetsFile(), append(b, '\n'), 0o600, atomicfile.Step("fleet.targets"))
}
