package fleet

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/render"
)

func TestPeersOf(t *testing.T) {
	web := func(name, addr string, f func(*Member)) Member {
		m := Member{Name: name, Addr: addr + ":7946", Status: "alive", Announce: Announce{Role: "web", Switch: Steady, Health: HealthOK, Provides: map[string]int{"http": 8080}}}
		if f != nil {
			f(&m)
		}
		return m
	}
	req := imagespec.Require{Role: "web", Provides: "http"}
	members := []Member{
		web("w3", "10.0.0.3", nil),
		web("w1", "10.0.0.1", nil),
		web("down", "10.0.0.4", func(m *Member) { m.Health = HealthDown }),
		web("switching", "10.0.0.5", func(m *Member) { m.Switch = Switching }),
		web("failed", "10.0.0.6", func(m *Member) { m.Status = "failed" }),
		web("other", "10.0.0.7", func(m *Member) { m.Provides = map[string]int{"admin": 9000} }),
		web("lb", "10.0.0.8", func(m *Member) { m.Role = "lb" }),
		web("w2", "10.0.0.2", func(m *Member) { m.Provides["http"] = 8081; m.Health = HealthNone }),
	}
	var got []string
	for _, p := range PeersOf(members, req) {
		got = append(got, p.Name+"="+p.String())
	}
	want := []string{"w1=10.0.0.1:8080", "w2=10.0.0.2:8081", "w3=10.0.0.3:8080"}
	if !slices.Equal(got, want) {
		t.Errorf("PeersOf = %v, want %v", got, want)
	}
}

// TestFleetRelations: the lb's `peers "backends"` follows the web nodes'
// membership and health, and Watch says when to render again.
func TestFleetRelations(t *testing.T) {
	t.Parallel()
	w := newWorld()
	key := testKey(t, 3)
	webMeta := &imagespec.Image{Role: "web", Provides: map[string]imagespec.Provide{"http": {Port: 8080}}}
	lbMeta := &imagespec.Image{Role: "lb", Requires: map[string]imagespec.Require{"backends": {Role: "web", Provides: "http"}}}
	lb := startMeta(t, w, key, "lb0", "lb", digestN(3), lbMeta)
	var webs []*member
	for i := range 3 {
		webs = append(webs, startMeta(t, w, key, fmt.Sprintf("web%d", i), "web", digestN(1), webMeta, lb.a.Addr()))
	}
	waitMembers(t, append(webs, lb), 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := lb.a.Watch(ctx)
	r, err := render.New(render.WithFuncs(lb.a.Funcs())) // the node's renderer
	if err != nil {
		t.Fatal(err)
	}
	render := func() string {
		out, err := r.Render("upstreams", []byte(`{{range peers "backends"}}server {{.}} # {{.Name}}
{{end}}`), map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	all := "server 127.0.0.1:8080 # web0\nserver 127.0.0.1:8080 # web1\nserver 127.0.0.1:8080 # web2\n"
	testsupport.WaitFor(t, 10*time.Second, "all three web nodes upstream", func() bool { return render() == all })

	drain := func() {
		for {
			select {
			case <-changed:
			default:
				return
			}
		}
	}
	drain()
	webs[1].h.setDown(true)
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not fire when a web node's health changed")
	}
	testsupport.WaitFor(t, 10*time.Second, "web1 out of the upstreams", func() bool {
		return render() == "server 127.0.0.1:8080 # web0\nserver 127.0.0.1:8080 # web2\n"
	})
	testsupport.WaitFor(t, 10*time.Second, "the lb re-rendering its templates", func() bool { return lb.h.reconfigured.Load() > 0 })
	if n := webs[0].h.reconfigured.Load(); n != 0 {
		t.Errorf("a web node (no relations) re-rendered %d times", n)
	}
	webs[1].h.setDown(false)
	testsupport.WaitFor(t, 10*time.Second, "web1 back", func() bool { return render() == all })
	webs[2].stop()
	testsupport.WaitFor(t, 10*time.Second, "web2 gone after it left", func() bool {
		return render() == "server 127.0.0.1:8080 # web0\nserver 127.0.0.1:8080 # web1\n"
	})
	if ps, err := webs[0].a.Peers("backends"); err != nil || len(ps) != 0 {
		t.Errorf("peers of a relation the role does not declare: %v, %v, want none", ps, err)
	}
}
