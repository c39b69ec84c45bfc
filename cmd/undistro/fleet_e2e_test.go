package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/supervise"
)

// fleetRole is the role of the fleet test's nodes: busybox crond (quiet,
// no port) with a readiness check that passes (or fails: %q is the check's
// command); %d makes each build's service differ. Its crontabs are read
// from /tmp: the node's /etc (ROOT/etc) does not carry the image's empty
// /etc/crontabs.
const fleetRole = `description = "fleet test node: one quiet service"
inherit = ["base"]
[service.crond]
exec = ["/bin/busybox", "crond", "-f", "-c", "/tmp", "-L", "/dev/null", "-l", "%d"]
ready = { command = [%q], timeout = "2s" }
`

type fleetMember struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Image   string `json:"image"`
	Switch  string `json:"switch"`
	Refused string `json:"refused"`
	Health  string `json:"health"`
}

// fleetNode is one daemon of the fleet test.
type fleetNode struct {
	name, root, addr string
	daemon           *exec.Cmd
	log              string
}

// TestFleetEndToEnd runs eleven node daemons on distinct loopback
// addresses as one fleet: membership from any node, a dead node dropped,
// a node without the key kept out, a rollout that never has more than
// --max-unavailable nodes switching, a late joiner converging, and a
// broken image stopped after the canary.
func TestFleetEndToEnd(t *testing.T) {
	repo := nodeRepo(t, "the node runtime (it chroots services)")
	work := t.TempDir()
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), sharedGoCache(t), "SOURCE_DATE_EPOCH=1700000000", "COSIGN_PASSWORD=e2e"}
	run(t, work, env, "key", "generate", "--out", filepath.Join(work, "k"))
	// Three builds of one role "svc": v1, v2, and a broken one.
	out := map[string]string{}
	digest := map[string]string{}
	for i, v := range []struct{ name, ready string }{{"v1", "/bin/true"}, {"v2", "/bin/true"}, {"bad", "/bin/false"}} {
		role := fmt.Sprintf(fleetRole, 5+i, v.ready)
		if err := os.WriteFile(filepath.Join(repo, "images", "svc.toml"), []byte(role), 0o644); err != nil {
			t.Fatal(err)
		}
		out[v.name] = filepath.Join(work, v.name)
		res := buildJSON(t, repo, env, "svc", "--out", out[v.name], "--sign-key", filepath.Join(work, "k.key"))
		digest[v.name] = res["svc"].Digest
	}
	ref := func(v string) string { return "oci:" + out[v] + ":svc" }
	run(t, work, env, "fleet", "keygen", "-o", filepath.Join(work, "fleet.key"))

	const n = 10
	nodes := map[string]*fleetNode{}
	seed := "127.0.77.1:7946"
	// prepare switches a node's store to v1 while no daemon runs; start
	// runs its daemon in the fleet.
	prepare := func(name string, i int) *fleetNode {
		fn := &fleetNode{name: name, root: filepath.Join(work, name), addr: fmt.Sprintf("127.0.77.%d:7946", i)}
		run(t, work, env, "node", "--root", fn.root, "trust", "add", filepath.Join(work, "k.pub"))
		run(t, work, env, "node", "--root", fn.root, "switch", ref("v1"))
		nodes[name] = fn
		return fn
	}
	start := func(fn *fleetNode, key string) {
		fn.log = fn.name + ".log"
		fn.daemon = startDaemon(t, work, env, []string{"-v", "node", "--root", fn.root, "run", "--health-timeout", "15s",
			"--fleet", fn.addr, "--join", seed, "--fleet-key", key, "--fleet-name", fn.name, "--fleet-timing", "local"}, fn.log)
	}
	members := func(from string) []fleetMember {
		t.Helper()
		o, err := runErr(work, env, "fleet", "--root", nodes[from].root, "members", "--json")
		if err != nil {
			return nil
		}
		var ms []fleetMember
		if err := json.Unmarshal([]byte(o), &ms); err != nil {
			t.Fatalf("fleet members --json: %v\n%s", err, o)
		}
		return ms
	}
	names := func(ms []fleetMember) []string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Name)
		}
		return s
	}
	var all []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("node%02d", i)
		start(prepare(name, i), filepath.Join(work, "fleet.key"))
		all = append(all, name)
	}
	waitAll := func(what string, cond func(ms []fleetMember) bool, from ...string) {
		t.Helper()
		testsupport.WaitFor(t, 90*time.Second, what, func() bool {
			for _, f := range from {
				if !cond(members(f)) {
					return false
				}
			}
			return true
		})
	}
	waitAll("every node listing all ten from any node", func(ms []fleetMember) bool {
		return slices.Equal(names(ms), all)
	}, all...)

	t.Run("a node without the key cannot join", func(t *testing.T) {
		other := filepath.Join(work, "other.key")
		run(t, work, env, "fleet", "keygen", "-o", other)
		fn := prepare("stranger", 99)
		start(fn, other)
		time.Sleep(3 * time.Second)
		if ms := members("stranger"); len(ms) != 1 {
			t.Errorf("the stranger sees %v, want only itself", names(ms))
		}
		if ms := members("node01"); slices.Contains(names(ms), "stranger") {
			t.Errorf("node01 lists the stranger: %v", names(ms))
		}
	})

	t.Run("a dead node disappears", func(t *testing.T) {
		victim := nodes["node07"]
		if err := victim.daemon.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = victim.daemon.Wait()
		rest := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "node07" })
		began := time.Now()
		waitAll("node07 gone from every view", func(ms []fleetMember) bool { return slices.Equal(names(ms), rest) }, rest...)
		t.Logf("a killed node left every view in %s", time.Since(began).Round(100*time.Millisecond))
		// It is failed, not gone: it counts as unavailable in rollouts until
		// it comes back or is forgotten, and only a failed member can be.
		if o := run(t, work, env, "fleet", "--root", nodes["node01"].root, "members", "--all"); !regexp.MustCompile(`(?m)^node07 .*failed$`).MatchString(o) {
			t.Errorf("fleet members --all does not list node07 as failed:\n%s", o)
		}
		if _, err := runErr(work, env, "fleet", "--root", nodes["node01"].root, "forget", "node02"); err == nil || !strings.Contains(err.Error(), "is alive, not failed") {
			t.Errorf("fleet forget of a live member: %v", err)
		}
		run(t, work, env, "fleet", "--root", nodes["node01"].root, "forget", "node07")
		testsupport.WaitFor(t, 30*time.Second, "node07 forgotten by node05", func() bool {
			o, err := runErr(work, env, "fleet", "--root", nodes["node05"].root, "members", "--all")
			return err == nil && !strings.Contains(o, "node07")
		})
		// A new daemon on its root stops what the killed one left and
		// rejoins.
		start(victim, filepath.Join(work, "fleet.key"))
		waitAll("node07 back", func(ms []fleetMember) bool { return slices.Equal(names(ms), all) }, "node01")
	})

	onDigest := func(d string, who []string) func([]fleetMember) bool {
		return func(ms []fleetMember) bool {
			got := 0
			for _, m := range ms {
				if slices.Contains(who, m.Name) && m.Image == d && m.Switch == "steady" && m.Health == "ok" {
					got++
				}
			}
			return got == len(who)
		}
	}
	t.Run("rollout", func(t *testing.T) {
		o := run(t, work, env, "fleet", "--root", nodes["node03"].root, "rollout", "svc", ref("v2"), "--max-unavailable", "2", "--canary", "1")
		if !strings.Contains(o, digest["v2"]) {
			t.Errorf("fleet rollout printed %q, want the digest %s", o, digest["v2"])
		}
		waitAll("every node on v2", onDigest(digest["v2"], all), "node05")
		most := maxSwitching(t, work, nodes, digest["v2"])
		if most > 2 || most < 1 {
			t.Errorf("%d nodes switched to v2 at once, want 1 or 2 (--max-unavailable 2)", most)
		}
		t.Logf("at most %d of 10 nodes switched at once (--max-unavailable 2, from the daemons' logs)", most)
		// Another node's view catches up within a few gossip rounds.
		var st string
		testsupport.WaitFor(t, 20*time.Second, "node09's rollout status complete", func() bool {
			st = run(t, work, env, "fleet", "--root", nodes["node09"].root, "rollout", "status", "svc")
			return strings.Contains(st, "10/10 on target")
		})
	})

	t.Run("a late joiner converges", func(t *testing.T) {
		late := prepare("node11", 11)
		start(late, filepath.Join(work, "fleet.key"))
		all = append(all, "node11")
		waitAll("node11 on v2", onDigest(digest["v2"], []string{"node11"}), "node01")
	})

	t.Run("a broken image stops after the canary", func(t *testing.T) {
		run(t, work, env, "fleet", "--root", nodes["node02"].root, "rollout", "svc", ref("bad"), "--max-unavailable", "3", "--canary", "1")
		testsupport.WaitFor(t, 60*time.Second, "the bad rollout halted", func() bool {
			o, err := runErr(work, env, "fleet", "--root", nodes["node04"].root, "rollout", "status", "svc", "--json")
			var rs struct{ Halted string }
			return err == nil && json.Unmarshal([]byte(o), &rs) == nil && rs.Halted != ""
		})
		time.Sleep(3 * time.Second) // the others would have started by now
		if tried := switchedTo(t, work, nodes, digest["bad"]); len(tried) != 1 {
			t.Errorf("nodes that switched to the broken image: %v, want the canary only", tried)
		}
		// The canary announces its rollback (and keeps announcing it); every
		// node runs v2 and is healthy.
		testsupport.WaitFor(t, 60*time.Second, "every node on v2 and healthy", func() bool {
			ms := members("node05")
			ok := 0
			for _, m := range ms {
				if m.Image == digest["v2"] && m.Health == "ok" && m.Switch != "switching" {
					ok++
				}
				if m.Switch == "rolledback" && m.Refused != digest["bad"] {
					t.Errorf("%s rolled back from %s, want %s", m.Name, m.Refused, digest["bad"])
				}
			}
			return ok == len(all)
		})
		q := run(t, work, env, "fleet", "--root", nodes["node01"].root, "query", "--role", "svc", "status", "--timeout", "30s")
		if !strings.Contains(q, "11 answered, 0 did not") {
			t.Errorf("fleet query status:\n%s", q)
		}
	})
}

var logTime = regexp.MustCompile(`^time=(\S+) `)

// switchIntervals reads each daemon's log for its switches to digest:
// when it announced "switching" and when the switch ended.
func switchIntervals(t *testing.T, work string, nodes map[string]*fleetNode, digest string) map[string][2]time.Time {
	t.Helper()
	out := map[string][2]time.Time{}
	for name, fn := range nodes {
		if fn.log == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(work, fn.log))
		if err != nil {
			t.Fatal(err)
		}
		var iv [2]time.Time
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "digest="+digest) {
				continue
			}
			m := logTime.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatalf("%s: %v", fn.log, err)
			}
			switch {
			case strings.Contains(line, "switching: my turn"):
				iv[0] = at
			case strings.Contains(line, "rollout switch done"), strings.Contains(line, "rollout switch failed"):
				iv[1] = at
			}
		}
		if !iv[0].IsZero() {
			out[name] = iv
		}
	}
	return out
}

func switchedTo(t *testing.T, work string, nodes map[string]*fleetNode, digest string) []string {
	var s []string
	for name := range switchIntervals(t, work, nodes, digest) {
		s = append(s, name)
	}
	slices.Sort(s)
	return s
}

// maxSwitching is the most switches to digest the daemons' logs show
// under way at one instant.
func maxSwitching(t *testing.T, work string, nodes map[string]*fleetNode, digest string) int {
	type edge struct {
		at   time.Time
		step int
	}
	var edges []edge
	for name, iv := range switchIntervals(t, work, nodes, digest) {
		if iv[1].IsZero() {
			t.Errorf("%s never finished its switch to %s", name, digest)
			continue
		}
		edges = append(edges, edge{iv[0], 1}, edge{iv[1], -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.step - b.step // an end before a start at the same instant
	})
	cur, most := 0, 0
	for _, e := range edges {
		cur += e.step
		most = max(most, cur)
	}
	return most
}

// lbTestWeb replaces the web role in the lb test's repository: busybox
// httpd on the node's own address (a node.toml value, through a
// template), serving the node's name, on the host's network, so that
// several web nodes share one host.
const lbTestWeb = `description = "web test backend: busybox httpd on the node's address"
inherit = ["base"]
[provides.http]
port = 8080
[[file]]
path = "/etc/web.env"
source = "web.env"
template = true
mode = "0644"
[service.httpd]
exec = ["/bin/sh", "-c", ". /etc/web.env && mkdir -p /tmp/www && echo $NAME > /tmp/www/name && exec /bin/busybox httpd -f -p $ADDR -h /tmp/www"]
network = "host"
publish = []
files = ["/etc/web.env"]
ready = { command = ["/bin/sh", "-c", ". /etc/web.env && wget -q -O /dev/null http://$ADDR/name"], timeout = "10s" }
`

// lbTestLB is the shipped lb role listening on the test's address.
const lbTestLB = `inherit = ["lb"]
[service.proxy]
exec = ["/usr/bin/undistro", "proxy", "--listen", "127.0.77.50:8090", "--upstreams", "/etc/lb/upstreams"]
ready = { tcp = "127.0.77.50:8090", timeout = "10s" }
`

// TestFleetLBEndToEnd: the lb role's rendered upstreams follow the web
// nodes of the fleet, and its proxy stops sending to a dead one.
func TestFleetLBEndToEnd(t *testing.T) {
	repo := nodeRepo(t, "the node runtime (it chroots services)")
	testsupport.WriteFiles(t, filepath.Join(repo, "images"), map[string]string{
		"web.toml": lbTestWeb, "web/web.env": "ADDR={{.Values.addr}}\nNAME={{.Name}}\n", "tlb.toml": lbTestLB,
	})
	work := t.TempDir()
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), sharedGoCache(t), "SOURCE_DATE_EPOCH=1700000000", "COSIGN_PASSWORD=e2e"}
	run(t, work, env, "key", "generate", "--out", filepath.Join(work, "k"))
	out := filepath.Join(work, "oci")
	buildJSON(t, repo, env, "web", "tlb", "--out", out, "--sign-key", filepath.Join(work, "k.key"))
	run(t, work, env, "fleet", "keygen", "-o", filepath.Join(work, "fleet.key"))

	daemons := map[string]*exec.Cmd{}
	roots := map[string]string{}
	start := func(name, role, addr, value string) {
		root := filepath.Join(work, name)
		roots[name] = root
		testsupport.WriteFiles(t, root, map[string]string{"node.toml": fmt.Sprintf("name = %q\n[values.%s]\naddr = %q\n", name, name, value)})
		run(t, work, env, "node", "--root", root, "trust", "add", filepath.Join(work, "k.pub"))
		// The lb's template calls peers, which only a daemon in a fleet
		// has: it switches through its daemon.
		if role != "tlb" {
			run(t, work, env, "node", "--root", root, "switch", "oci:"+out+":"+role)
		}
		daemons[name] = startDaemon(t, work, env, []string{"-v", "node", "--root", root, "run", "--health-timeout", "20s",
			"--fleet", addr, "--join", "127.0.77.50:7946", "--fleet-key", filepath.Join(work, "fleet.key"),
			"--fleet-name", name, "--fleet-timing", "local"}, name+".log")
		if role == "tlb" {
			testsupport.WaitFor(t, 30*time.Second, "the lb daemon", func() bool {
				_, err := runErr(work, env, "fleet", "--root", root, "members")
				return err == nil
			})
			if _, err := runErr(work, env, "node", "--root", root, "switch", "oci:"+out+":"+role); err != nil {
				logs, _ := os.ReadFile(filepath.Join(root, "logs", "proxy.log"))
				t.Fatalf("switching the lb: %v\nproxy.log:\n%s", err, logs)
			}
		}
	}
	start("lb", "tlb", "127.0.77.50:7946", "")
	webs := []string{"web1", "web2", "web3"}
	for i, w := range webs {
		start(w, "web", fmt.Sprintf("127.0.77.%d:7946", 21+i), fmt.Sprintf("127.0.77.%d:8080", 21+i))
	}
	upstreams := func() string {
		b, _ := os.ReadFile(filepath.Join(roots["lb"], "etc", "lb", "upstreams"))
		return string(b)
	}
	served := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			resp, err := http.Get("http://127.0.77.50:8090/name")
			if err != nil {
				got["error: "+err.Error()]++
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))]++
		}
		return got
	}
	testsupport.WaitFor(t, 90*time.Second, "the lb's upstreams listing the three web nodes", func() bool {
		u := upstreams()
		return strings.Contains(u, "127.0.77.21:8080 # web1") && strings.Contains(u, "127.0.77.22:8080 # web2") && strings.Contains(u, "127.0.77.23:8080 # web3")
	})
	testsupport.WaitFor(t, 30*time.Second, "the proxy sending to all three", func() bool {
		got := served(12)
		return got["200 web1"] > 0 && got["200 web2"] > 0 && got["200 web3"] > 0
	})

	// web2 dies: its daemon is killed and so are its services.
	if err := daemons["web2"].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = daemons["web2"].Wait()
	if _, err := supervise.KillLeftovers(roots["web2"]); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 60*time.Second, "web2 out of the lb's upstreams", func() bool {
		u := upstreams()
		return !strings.Contains(u, "web2") && strings.Contains(u, "web1") && strings.Contains(u, "web3")
	})
	testsupport.WaitFor(t, 30*time.Second, "the proxy serving from web1 and web3 only", func() bool {
		got := served(12)
		return got["200 web1"]+got["200 web3"] == 12
	})
	if ps := run(t, work, env, "fleet", "--root", roots["lb"], "peers", "backends"); strings.Contains(ps, "web2") || !strings.Contains(ps, "127.0.77.21:8080 web1") {
		t.Errorf("fleet peers backends:\n%s", ps)
	}
}
