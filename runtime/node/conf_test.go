package node

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/drift"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/imagespec"
)

const webTmpl = "host={{.Facts.Hostname}}\nport={{.Values.port}}\n"

// confRoles returns images whose web service reads a template and api
// service a static file: t; missing, whose template needs a key no node
// has; a, b (b changes web.conf only) and b-POLICY for each merge policy.
func confRoles(t *testing.T) map[string]string {
	svcs := []imagespec.Service{
		{Name: "db", Package: "db.sh", Exec: []string{"/svc/db.sh"}, Restart: "always", Ready: ready3},
		{Name: "web", Package: "web.sh", Exec: []string{"/svc/web.sh"}, Restart: "always", Files: []string{"/etc/web.conf"}, Ready: ready3},
		{Name: "api", Package: "api.sh", Exec: []string{"/svc/api.sh"}, Restart: "always", Files: []string{"/etc/api.conf"}, Ready: ready3},
	}
	files := func(web string) map[string]string {
		return map[string]string{"/svc/db.sh": notify, "/svc/web.sh": notify, "/svc/api.sh": notify, "/etc/web.conf": web, "/etc/api.conf": "api1\n"}
	}
	src := map[string]string{"/etc/web.conf": "images/t/web.conf", "/etc/api.conf": "images/base/api.conf"}
	tmpl := map[string]bool{"/etc/web.conf": true}
	roles := []role{
		{Name: "t", Files: files(webTmpl), Services: svcs, Sources: src, Templates: tmpl},
		{Name: "missing", Files: files("a\nport={{.Values.nope}}\n"), Services: svcs, Sources: src, Templates: tmpl},
		{Name: "a", Files: files("v1\n"), Services: svcs, Sources: src},
		{Name: "b", Files: files("v2\n"), Services: svcs, Sources: src},
	}
	for _, policy := range []string{imagespec.MergeRefuse, imagespec.MergeKeep, imagespec.MergeImage} {
		roles = append(roles, role{Name: "b-" + policy, Files: files("v2\n"), Services: svcs, Sources: src, Config: imagespec.ConfigPolicy{Merge: policy}})
	}
	return writeLayout(t, filepath.Join(t.TempDir(), "layout"), roles...)
}

func readEtc(t *testing.T, n *Node, p string) string {
	t.Helper()
	b, err := os.ReadFile(etcmerge.Open(n.Root()).Live(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeEtc(t *testing.T, n *Node, p, content string) {
	t.Helper()
	if err := os.WriteFile(etcmerge.Open(n.Root()).Live(p), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTemplates: a template is rendered from the node's facts and values;
// a change of either re-renders it and restarts only the service that
// reads it; a template with a missing key is refused with its file:line;
// an edit of a managed file is recorded by the daemon's watcher.
func TestTemplates(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := confRoles(t)
	cfg := testConfig(t)
	var host atomic.Value
	host.Store("h1")
	cfg.Facts = func(ctx context.Context) (facts.Facts, error) {
		f, err := facts.Gather(ctx)
		f.Hostname = host.Load().(string)
		return f, err
	}
	toml := func(port int) {
		b := []byte("name = \"n1\"\ntags = [\"n1\", \"web\"]\n\n[values.web]\nport = " + strconv.Itoa(port) + "\n")
		if err := os.WriteFile(filepath.Join(cfg.Root, "node.toml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	toml(8080)
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["t"], unsigned); err != nil {
		t.Fatal(err)
	}
	if got := readEtc(t, n, "/etc/web.conf"); got != "host=h1\nport=8080\n" {
		t.Fatalf("rendered web.conf = %q", got)
	}
	if err := n.supervisor().WaitReady(ctx, "db", "web", "api"); err != nil {
		t.Fatal(err)
	}
	before := pids(mustStatus(t, c))

	reconfigure := func(t *testing.T, want string) {
		t.Helper()
		p, err := c.Reconfigure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := readEtc(t, n, "/etc/web.conf"); got != want {
			t.Fatalf("web.conf = %q, want %q", got, want)
		}
		checkPlan(t, p, nil, nil, []string{"web"}, []string{"api", "db"})
		if !strings.Contains(p.Reasons["web"], "/etc/web.conf") {
			t.Fatalf("reason %q", p.Reasons["web"])
		}
		if err := n.supervisor().WaitReady(ctx, "db", "web", "api"); err != nil {
			t.Fatal(err)
		}
		now := pids(mustStatus(t, c))
		if now["web"] == before["web"] || now["db"] != before["db"] || now["api"] != before["api"] {
			t.Fatalf("pids %v -> %v: want only web restarted", before, now)
		}
		before = now
	}
	t.Run("a fact change re-renders and restarts only web", func(t *testing.T) {
		host.Store("h2")
		reconfigure(t, "host=h2\nport=8080\n")
	})
	// The daemon watches node.toml: a value change re-renders by itself
	// (an explicit reconfigure would race it).
	t.Run("a change of node.toml re-renders by itself", func(t *testing.T) {
		toml(7070)
		testsupport.WaitFor(t, 10*time.Second, "web.conf re-rendered", func() bool {
			return readEtc(t, n, "/etc/web.conf") == "host=h2\nport=7070\n"
		})
		var now map[string]int
		testsupport.WaitFor(t, 10*time.Second, "web restarted", func() bool {
			now = pids(mustStatus(t, c))
			return now["web"] != before["web"] && now["web"] != 0
		})
		if err := n.supervisor().WaitReady(ctx, "db", "web", "api"); err != nil {
			t.Fatal(err)
		}
		now = pids(mustStatus(t, c))
		if now["db"] != before["db"] || now["api"] != before["api"] {
			t.Fatalf("pids %v -> %v: want only web restarted", before, now)
		}
		before = now
	})
	t.Run("no change restarts nothing", func(t *testing.T) {
		p, err := c.Reconfigure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, nil, nil, nil, []string{"api", "db", "web"})
		if now := pids(mustStatus(t, c)); !reflect.DeepEqual(now, before) {
			t.Fatalf("pids %v -> %v", before, now)
		}
	})
	t.Run("a missing key refuses the switch", func(t *testing.T) {
		cur := mustStatus(t, c).Current.Digest
		_, err := c.Switch(ctx, refs["missing"], unsigned)
		if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), `images/t/web.conf:2:`) || !strings.Contains(err.Error(), `missing key "nope"`) {
			t.Fatalf("switch to a template with a missing key: %v", err)
		}
		st := mustStatus(t, c)
		if st.Current.Digest != cur || st.Pending != nil || !reflect.DeepEqual(pids(st), before) {
			t.Fatalf("the refused switch changed the node: %+v", st)
		}
		if got := readEtc(t, n, "/etc/web.conf"); got != "host=h2\nport=7070\n" {
			t.Fatalf("web.conf = %q after a refused switch", got)
		}
	})
	t.Run("an edit is recorded by the watcher", func(t *testing.T) {
		live := etcmerge.Open(n.Root()).Live("/etc/api.conf")
		if out, err := exec.Command("sh", "-c", `echo tuned > "$0"`, live).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var rep *DriftReport
		testsupport.WaitFor(t, 10*time.Second, "the edit in node drift", func() bool {
			rep, err = Drift(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return len(rep.Files) == 1
		})
		f := rep.Files[0]
		if f.Path != "/etc/api.conf" || f.Record.Event != "IN_CLOSE_WRITE" || f.Record.Action != drift.Reported ||
			!strings.Contains(f.Diff, "-api1\n+tuned\n") || f.Source != "images/base/api.conf" {
			t.Fatalf("drift %+v record %+v", f, f.Record)
		}
		if d := mustStatus(t, c).Drift; d == nil || d.Drifted != 1 || d.Directories < 1 {
			t.Fatalf("status drift %+v", d)
		}
	})
}

// TestMerge: a local edit of a file the new image did not change survives
// the switch; one of a file it changed follows the role's policy; the dry
// run shows each decision. No daemon: the merge is the store's switch.
func TestMerge(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := confRoles(t)
	open := func(t *testing.T) *Node {
		n, err := Open(ctx, testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if _, err := n.Switch(ctx, refs["a"], unsigned); err != nil {
			t.Fatal(err)
		}
		return n
	}
	decision := func(p *Plan, path string) etcmerge.Decision {
		for _, d := range p.Etc {
			if d.Path == path {
				return d
			}
		}
		return etcmerge.Decision{}
	}
	t.Run("an edit the image did not touch survives", func(t *testing.T) {
		n := open(t)
		writeEtc(t, n, "/etc/api.conf", "mine\n")
		p, err := n.Switch(ctx, refs["b"], unsignedDryRun)
		if err != nil {
			t.Fatal(err)
		}
		if d := decision(p, "/etc/api.conf"); d.Action != etcmerge.KeepLocal || !d.LocalEdit {
			t.Fatalf("dry run decision %+v", d)
		}
		if d := decision(p, "/etc/web.conf"); d.Action != etcmerge.Update {
			t.Fatalf("dry run decision %+v", d)
		}
		if got := readEtc(t, n, "/etc/web.conf"); got != "v1\n" {
			t.Fatalf("the dry run wrote web.conf: %q", got)
		}
		if _, err := n.Switch(ctx, refs["b"], unsigned); err != nil {
			t.Fatal(err)
		}
		if got := readEtc(t, n, "/etc/api.conf"); got != "mine\n" {
			t.Fatalf("api.conf = %q, the local edit is lost", got)
		}
		if got := readEtc(t, n, "/etc/web.conf"); got != "v2\n" {
			t.Fatalf("web.conf = %q, want the new image's", got)
		}
	})
	tests := []struct {
		policy, action, content, err string
	}{
		{imagespec.MergeRefuse, etcmerge.Refuse, "mine\n", "/etc/web.conf edited on this node and changed by the image"},
		{imagespec.MergeKeep, etcmerge.KeepLocal, "mine\n", ""},
		{imagespec.MergeImage, etcmerge.TakeImage, "v2\n", ""},
	}
	for _, tc := range tests {
		t.Run("conflict policy "+tc.policy, func(t *testing.T) {
			n := open(t)
			a, _ := n.current()
			writeEtc(t, n, "/etc/web.conf", "mine\n")
			p, err := n.Switch(ctx, refs["b-"+tc.policy], unsignedDryRun)
			if err != nil {
				t.Fatal(err)
			}
			if d := decision(p, "/etc/web.conf"); d.Action != tc.action || !d.LocalEdit {
				t.Fatalf("dry run decision %+v, want %s", d, tc.action)
			}
			// web reads what the node has: it restarts only if that changes.
			if restarts := slices.Contains(p.Restart, "web"); restarts != (tc.action == etcmerge.TakeImage) {
				t.Fatalf("dry run restarts web: %v, for a %s decision (%+v)", restarts, tc.action, p)
			}
			_, err = n.Switch(ctx, refs["b-"+tc.policy], unsigned)
			cur, _ := n.current()
			if tc.err != "" {
				if !errors.Is(err, etcmerge.ErrConflict) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("switch: %v, want a refusal naming the file", err)
				}
				if cur.Digest != a.Digest {
					t.Fatalf("the refused switch changed the current image")
				}
			} else if err != nil {
				t.Fatal(err)
			} else if cur.Digest == a.Digest {
				t.Fatalf("no switch")
			}
			if got := readEtc(t, n, "/etc/web.conf"); got != tc.content {
				t.Fatalf("web.conf = %q, want %q", got, tc.content)
			}
		})
	}
}

// TestTemplateSandboxed: a chrooted service sees the node's /etc, where
// its template is rendered (the image's root keeps the template source),
// and after a fact change it restarts and reads the re-rendered file.
func TestTemplateSandboxed(t *testing.T) {
	testsupport.RequireRoot(t, "chroot")
	bbPath := testsupport.RequireTool(t, "busybox", "apt-get install busybox-static")
	bb, err := os.ReadFile(bbPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := logCtx(context.Background())
	app := imagespec.Service{Name: "app", Package: "busybox.sh", Packages: []string{"busybox.sh"}, Restart: "always",
		Exec:  []string{"/bin/busybox.sh", "sh", "-c", `/bin/busybox.sh cat /etc/app.conf > /tmp/seen; echo ready >&3; exec /bin/busybox.sh sleep 300`},
		Files: []string{"/etc/app.conf"}, Ready: ready3}
	refs := writeLayout(t, filepath.Join(t.TempDir(), "layout"), role{Name: "a",
		Files: map[string]string{"/bin/busybox.sh": string(bb), "/etc/app.conf": "host={{.Facts.Hostname}}\n",
			"/proc/.keep": "", "/dev/.keep": "", "/tmp/.keep": "", "/run/.keep": ""},
		Services: []imagespec.Service{app}, Templates: map[string]bool{"/etc/app.conf": true}})
	cfg := testConfig(t)
	cfg.NoChroot = false
	var host atomic.Value
	host.Store("h1")
	cfg.Facts = func(ctx context.Context) (facts.Facts, error) {
		f, err := facts.Gather(ctx)
		f.Hostname = host.Load().(string)
		return f, err
	}
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	seen := func(want string) int {
		t.Helper()
		var pid int
		testsupport.WaitFor(t, 10*time.Second, "app to read "+want, func() bool {
			pid = svc(mustStatus(t, c), "app").PID
			b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "root/tmp/seen"))
			return pid != 0 && string(b) == want
		})
		return pid
	}
	pid := seen("host=h1\n")
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "root/etc/app.conf"))
	if err != nil || string(b) != "host=h1\n" {
		t.Fatalf("the service's /etc/app.conf = %q, %v", b, err)
	}
	cur, _ := n.current()
	rootfs, _ := n.st.Rootfs(ctx, cur.Digest)
	if b, _ := os.ReadFile(filepath.Join(rootfs, "etc/app.conf")); string(b) != "host={{.Facts.Hostname}}\n" {
		t.Fatalf("the image root's app.conf = %q, want the template source", b)
	}
	host.Store("h2")
	if _, err := c.Reconfigure(ctx); err != nil {
		t.Fatal(err)
	}
	if now := seen("host=h2\n"); now == pid {
		t.Fatalf("app kept pid %d: not restarted", pid)
	}
}

// TestRollbackWithUnrenderableTemplate: a rollback restores service even
// when the previous image's template no longer renders with the node's
// values: /etc stays as it is.
func TestRollbackWithUnrenderableTemplate(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := confRoles(t)
	cfg := testConfig(t)
	nodeToml := filepath.Join(cfg.Root, "node.toml")
	if err := os.WriteFile(nodeToml, []byte("name = \"n\"\n[values.n]\nport = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Switch(ctx, refs["t"], unsigned); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nodeToml, nil, 0o644); err != nil { // port is gone
		t.Fatal(err)
	}
	if err := n.Rollback(ctx); err != nil {
		t.Fatalf("rollback to an image whose template no longer renders: %v", err)
	}
	if cur, _ := n.current(); cur.Meta.Role != "t" {
		t.Fatalf("current is %s, want t", cur.Meta.Role)
	}
	if got := readEtc(t, n, "/etc/web.conf"); got != "v1\n" {
		t.Fatalf("web.conf = %q, want /etc left as it was", got)
	}
}
