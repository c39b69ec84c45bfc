package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/supervise"
)

// world is what the test hosts share: the images refs resolve to, the
// images whose health gate fails, and how many switches run at once.
type world struct {
	refs     map[string]string // ref -> digest
	bad      map[string]bool   // digests whose switch rolls back
	inflight atomic.Int32
	most     atomic.Int32
	mu       sync.Mutex
	switched map[string][]string // digest -> nodes that switched to it
}

// testHost is a node as the agent sees it (Host): its switches take a
// while and roll back from bad images, as node.Switch does.
type testHost struct {
	w     *world
	root  string
	name  string
	mu    sync.Mutex
	role  string
	image string
	meta  *imagespec.Image
	down  bool // its service is not ready

	changed chan struct{} // closed at the next change (Changed)

	reconfigured atomic.Int32
	// mute, when set, makes Status block until its ctx ends or the channel
	// is closed: the member is alive but does not answer a query.
	mute atomic.Pointer[chan struct{}]
}

func (h *testHost) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// notifyLocked wakes Changed's waiters; h.mu is held.
func (h *testHost) notifyLocked() {
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

func (h *testHost) CurrentImage() (*imagespec.Image, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.meta, nil
}

// Reconfigure counts the re-renders the agent asks for (node.Node
// re-renders its templates).
func (h *testHost) Reconfigure(ctx context.Context) (*node.Plan, error) {
	h.reconfigured.Add(1)
	return &node.Plan{}, nil
}

func (h *testHost) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
	h.notifyLocked()
}

func (h *testHost) Root() string { return h.root }

func (h *testHost) Status(ctx context.Context) (*node.Status, error) {
	if m := h.mute.Load(); m != nil {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-*m:
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	state := supervise.StateReady
	if h.down {
		state = supervise.StateBackoff
	}
	return &node.Status{Current: &node.ImageInfo{Digest: h.image, Role: h.role},
		Services: []supervise.ServiceStatus{{Name: "svc", State: state}}}, nil
}

func (h *testHost) Verify(ctx context.Context, ref string, o node.Admit) (string, string, error) {
	d, ok := h.w.refs[ref]
	if !ok {
		return "", "", fmt.Errorf("refusing %s: %w", ref, node.ErrUnverified)
	}
	if o.Digest != "" && d != o.Digest {
		return "", "", node.ErrOtherDigest
	}
	return d, o.Role, nil
}

func (h *testHost) Switch(ctx context.Context, ref string, o node.SwitchOptions) (*node.Plan, error) {
	d, _, err := h.Verify(ctx, ref, o.Admit)
	if err != nil {
		return nil, err
	}
	n := h.w.inflight.Add(1)
	for {
		m := h.w.most.Load()
		if n <= m || h.w.most.CompareAndSwap(m, n) {
			break
		}
	}
	h.w.mu.Lock()
	h.w.switched[d] = append(h.w.switched[d], h.name)
	h.w.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	h.w.inflight.Add(-1)
	if h.w.bad[d] {
		return nil, fmt.Errorf("%w: svc not ready", node.ErrRolledBack)
	}
	h.mu.Lock()
	h.image = d
	h.notifyLocked()
	h.mu.Unlock()
	return &node.Plan{To: d}, nil
}

func (h *testHost) current() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.image
}

type member struct {
	a    *Agent
	h    *testHost
	stop func()
}

// start runs an agent for a node of role on image, joining through join.
func start(t *testing.T, w *world, key []byte, name, role, image string, join ...string) *member {
	t.Helper()
	return startMeta(t, w, key, name, role, image, nil, join...)
}

// startMeta is start for a node whose image declares relations.
func startMeta(t *testing.T, w *world, key []byte, name, role, image string, meta *imagespec.Image, join ...string) *member {
	t.Helper()
	a, err := New(Config{Name: name, Bind: "127.0.0.1:0", Join: join, Key: key, Timing: TimingLocal, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &testHost{w: w, root: t.TempDir(), name: name, role: role, image: image, meta: meta}
	ctx, cancel := context.WithCancel(logctx.With(context.Background(), testLog))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-a.ready:
	case err := <-done:
		t.Fatalf("agent %s: %v", name, err)
	}
	return &member{a: a, h: h, stop: stop}
}

func newWorld() *world {
	return &world{refs: map[string]string{}, bad: map[string]bool{}, switched: map[string][]string{}}
}

// testKey is the fleet key b of the test: tests run in parallel on
// 127.0.0.1, and a member keeps reconnecting to a failed member's address,
// which another test may bind next; with a shared key the two tests'
// clusters would merge.
func testKey(t *testing.T, b byte) []byte {
	h := sha256.Sum256(append([]byte(t.Name()+"\x00"), b))
	return h[:KeySize]
}

// cluster starts n members of role on image (names n00…).
func cluster(t *testing.T, w *world, key []byte, n int, role, image string) []*member {
	var ms []*member
	for i := range n {
		var join []string
		if i > 0 {
			join = []string{ms[0].a.Addr()}
		}
		ms = append(ms, start(t, w, key, fmt.Sprintf("n%02d", i), role, image, join...))
	}
	waitMembers(t, ms, n)
	return ms
}

func waitMembers(t *testing.T, ms []*member, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var wrong []string
		for _, m := range ms {
			if got := m.a.Members(false); len(got) != n {
				var names []string
				for _, g := range got {
					names = append(names, g.Name)
				}
				wrong = append(wrong, fmt.Sprintf("%s sees %v", m.a.Name(), names))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for every member to see %d alive: %s", n, strings.Join(wrong, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFleetMembershipAndQuery(t *testing.T) {
	t.Parallel()
	w := newWorld()
	key := testKey(t, 1)
	ms := cluster(t, w, key, 5, "web", digestN(1))
	lb := start(t, w, key, "lb0", "lb", digestN(3), ms[0].a.Addr())
	all := append(ms, lb)
	waitMembers(t, all, 6)

	got := lb.a.Members(false)
	if got[0].Name != "lb0" || got[1].Name != "n00" || got[1].Role != "web" || got[1].Image != digestN(1) || got[1].Health != HealthOK {
		t.Errorf("members from lb0: %+v", got)
	}
	// A loaded host delays gossip past serf's default timeout; a query
	// that everyone answers returns at the last answer, not the timeout.
	ctx := context.Background()
	const long = 30 * time.Second
	asked := time.Now()
	ans, err := lb.a.Query(ctx, Question{Name: QuestionStatus, Role: "web", Timeout: long})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Answers) != 5 || len(ans.Missing) != 0 {
		t.Fatalf("status of role web: %d answers, missing %v, want 5 and none", len(ans.Answers), ans.Missing)
	}
	if d := time.Since(asked); d >= long {
		t.Errorf("a query every member answered took %v: it waited for the timeout", d)
	}
	var st StatusAnswer
	if err := json.Unmarshal(ans.Answers[0].Answer, &st); err != nil || st.Role != "web" || st.Services[0] != "svc=ready" {
		t.Errorf("status answer %s: %+v %v", ans.Answers[0].Answer, st, err)
	}
	ans, err = ms[1].a.Query(ctx, Question{Name: QuestionDrift, Role: "web", Timeout: long})
	if err != nil || len(ans.Answers) != 5 || string(ans.Answers[0].Answer) != `{"count":0}` {
		t.Errorf("drift of role web: %+v %v", ans, err)
	}
	ans, err = ms[2].a.Query(ctx, Question{Name: "nosuch", Timeout: long})
	if err != nil || len(ans.Answers) != 6 || !strings.Contains(ans.Answers[0].Error, `no question "nosuch"`) {
		t.Errorf("unknown question: %+v %v", ans, err)
	}

	// A member alive but silent is reported missing once the timeout ends.
	unmute := make(chan struct{})
	ms[2].h.mute.Store(&unmute)
	// (Who else answers in time depends on the host's load; every member
	// is either in the answers or missing.)
	ans, err = lb.a.Query(ctx, Question{Name: QuestionStatus, Role: "web", Timeout: 3 * time.Second})
	if err != nil || !slices.Contains(ans.Missing, "n02") || len(ans.Answers)+len(ans.Missing) != 5 {
		t.Errorf("status with n02 silent: %+v %v, want n02 missing and 5 in all", ans, err)
	}
	for _, a := range ans.Answers {
		if a.Node == "n02" {
			t.Errorf("n02 is silent but answered: %+v", a)
		}
	}
	close(unmute) // what else asked its status (the agent's own refresh) goes on
	ms[2].h.mute.Store(nil)

	// A graceful leave is seen at once; a dead member after the failure
	// detection timeout.
	ms[4].stop()
	waitMembers(t, all[:4], 5)
	if s := ms[3].a.serf.Load(); s != nil {
		_ = s.Shutdown() // dies without a word
	}
	waitMembers(t, all[:3], 4)
	testsupport.WaitFor(t, 10*time.Second, "n03 failed in lb0's view", func() bool {
		for _, m := range lb.a.Members(true) {
			if m.Name == "n03" {
				return m.Status == "failed"
			}
		}
		return false
	})
	ans, err = lb.a.Query(ctx, Question{Name: QuestionVersion, Role: "web", Timeout: long})
	if err != nil || len(ans.Answers) != 3 {
		t.Errorf("version after the losses: %+v %v, want 3 answers", ans, err)
	}

	// A failed member counts as unavailable in its role's rollouts until
	// it comes back or is forgotten; only a failed member can be.
	if rs := lb.a.Rollout("web"); !slices.Equal(rs.Failed, []string{"n03"}) {
		t.Errorf("rollout status of web lists failed %v, want [n03]", rs.Failed)
	}
	if err := lb.a.Forget("n01"); err == nil || !strings.Contains(err.Error(), "is alive, not failed") {
		t.Errorf("forgetting a live member: %v", err)
	}
	if err := lb.a.Forget("nosuch"); err == nil || !strings.Contains(err.Error(), "no such member") {
		t.Errorf("forgetting an unknown member: %v", err)
	}
	if err := lb.a.Forget("n03"); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "n03 forgotten by every member", func() bool {
		for _, m := range slices.Concat(all[:3], []*member{lb}) {
			for _, x := range m.a.Members(true) {
				if x.Name == "n03" {
					return false
				}
			}
		}
		return true
	})
	if rs := lb.a.Rollout("web"); len(rs.Failed) != 0 || len(rs.Members) != 3 {
		t.Errorf("rollout status of web after forgetting n03: %+v", rs)
	}
}

func TestFleetKeyRequired(t *testing.T) {
	t.Parallel()
	w := newWorld()
	ms := cluster(t, w, testKey(t, 1), 3, "web", digestN(1))
	stranger := start(t, w, testKey(t, 2), "stranger", "web", digestN(1), ms[0].a.Addr())
	time.Sleep(2 * time.Second) // time to try
	if n := len(stranger.a.Members(false)); n != 1 {
		t.Errorf("a node with another key sees %d members, want only itself", n)
	}
	for _, m := range ms {
		if n := len(m.a.Members(true)); n != 3 {
			t.Errorf("%s sees %d members after a stranger tried to join, want 3", m.a.Name(), n)
		}
	}
	if _, err := New(Config{Name: "x", Bind: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "fleet keygen") {
		t.Errorf("New without a key: %v, want a refusal naming keygen", err)
	}
}

func TestFleetRollout(t *testing.T) {
	t.Parallel()
	w := newWorld()
	key := testKey(t, 1)
	good, bad := digestN(2), digestN(4)
	w.refs["good"], w.refs["bad"] = good, bad
	w.bad[bad] = true
	web := cluster(t, w, key, 6, "web", digestN(1))
	lb := start(t, w, key, "lb0", "lb", digestN(3), web[0].a.Addr())
	waitMembers(t, append(web, lb), 7)
	ctx := context.Background()

	if _, err := lb.a.Publish(ctx, Target{Role: "web", Ref: "forged", MaxUnavailable: 1}); err == nil {
		t.Error("publishing an image the node does not verify succeeded")
	}
	pub, err := lb.a.Publish(ctx, Target{Role: "web", Ref: "good", MaxUnavailable: 2, Canary: 1})
	if err != nil || pub.Digest != good {
		t.Fatalf("Publish = %+v, %v", pub, err)
	}
	testsupport.WaitFor(t, 30*time.Second, "every web node on the good image", func() bool {
		for _, m := range web {
			if m.h.current() != good {
				return false
			}
		}
		return true
	})
	if most := w.most.Load(); most > 2 || most < 1 {
		t.Errorf("%d nodes switched at once, want 1..2 (--max-unavailable 2)", most)
	}
	if lb.h.current() != digestN(3) {
		t.Errorf("the lb node switched to %s", lb.h.current())
	}
	testsupport.WaitFor(t, 10*time.Second, "rollout status complete", func() bool {
		rs := lb.a.Rollout("web")
		return rs.Target != nil && rs.OnTarget == 6 && rs.Halted == ""
	})

	// A node that joins after the rollout converges on the role's target.
	late := start(t, w, key, "late", "web", digestN(1), lb.a.Addr())
	testsupport.WaitFor(t, 20*time.Second, "the late joiner on the good image", func() bool {
		return late.h.current() == good
	})
	web = append(web, late)

	// A broken image stops after the canary.
	if _, err := web[3].a.Publish(ctx, Target{Role: "web", Ref: "bad", MaxUnavailable: 3, Canary: 1}); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 20*time.Second, "the rollout of the bad image halted", func() bool {
		return lb.a.Rollout("web").Halted != ""
	})
	time.Sleep(2 * time.Second) // others would have started by now
	w.mu.Lock()
	tried := w.switched[bad]
	w.mu.Unlock()
	if len(tried) != 1 {
		t.Errorf("nodes that switched to the bad image: %v, want only the canary", tried)
	}
	for _, m := range web {
		if m.h.current() != good {
			t.Errorf("%s runs %s after the bad rollout, want %s", m.a.Name(), m.h.current(), good)
		}
	}

}
