package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/store"
	"github.com/un-distro/undistro/runtime/supervise"
)

const (
	// notify is a service that says hello, becomes ready on fd 3 and stays up.
	notify = "#!/bin/sh\necho \"$0 up\"\necho ready >&3\nexec sleep 300\n"
	// webSh prints its config file (found beside it in the image root).
	webSh = "#!/bin/sh\necho \"web conf: $(cat \"$(dirname \"$0\")/../etc/web.conf\")\"\necho ready >&3\nexec sleep 300\n"
	// stuck never becomes ready.
	stuck = "#!/bin/sh\necho stuck\nexec sleep 300\n"
	plain = "#!/bin/sh\nexec sleep 300\n"
)

var ready3 = &imagespec.Ready{NotifyFD: 3}

// testRoles returns three images: a; b, which changes web's config file,
// drops cron and adds extra; and bad, b with a web that never gets ready.
func testRoles(t *testing.T) map[string]string {
	db := imagespec.Service{Name: "db", Package: "db.sh", Exec: []string{"/svc/db.sh"}, Restart: "always", Ready: ready3}
	web := imagespec.Service{Name: "web", Package: "web.sh", Exec: []string{"/svc/web.sh"}, Restart: "always",
		After: []string{"db"}, Files: []string{"/etc/web.conf"}, Ready: ready3}
	cron := imagespec.Service{Name: "cron", Package: "cron.sh", Exec: []string{"/svc/cron.sh"}, Restart: "always"}
	extra := imagespec.Service{Name: "extra", Package: "extra.sh", Exec: []string{"/svc/extra.sh"}, Restart: "always", Ready: ready3}
	badWeb := web
	badWeb.Ready = &imagespec.Ready{NotifyFD: 3, Timeout: imagespec.Duration(200 * time.Millisecond)}
	return writeLayout(t, filepath.Join(t.TempDir(), "layout"),
		role{Name: "a", Files: map[string]string{"/svc/db.sh": notify, "/svc/web.sh": webSh, "/svc/cron.sh": plain, "/etc/web.conf": "v1"},
			Services: []imagespec.Service{db, web, cron}},
		role{Name: "b", Files: map[string]string{"/svc/db.sh": notify, "/svc/web.sh": webSh, "/svc/extra.sh": notify, "/etc/web.conf": "v2"},
			Services: []imagespec.Service{db, web, extra}},
		role{Name: "bad", Files: map[string]string{"/svc/db.sh": notify, "/svc/web.sh": stuck, "/svc/extra.sh": notify, "/etc/web.conf": "v2"},
			Services: []imagespec.Service{db, badWeb, extra}},
	)
}

func pids(st *Status) map[string]int {
	m := map[string]int{}
	for _, s := range st.Services {
		m[s.Name] = s.PID
	}
	return m
}

func mustStatus(t *testing.T, api API) *Status {
	t.Helper()
	st, err := api.Status(logCtx(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkPlan(t *testing.T, p *Plan, start, stop, restart, unchanged []string) {
	t.Helper()
	norm := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	if !reflect.DeepEqual(norm(p.Start), norm(start)) || !reflect.DeepEqual(norm(p.Stop), norm(stop)) ||
		!reflect.DeepEqual(norm(p.Restart), norm(restart)) || !reflect.DeepEqual(norm(p.Unchanged), norm(unchanged)) {
		t.Fatalf("plan start=%v stop=%v restart=%v unchanged=%v, want start=%v stop=%v restart=%v unchanged=%v",
			p.Start, p.Stop, p.Restart, p.Unchanged, start, stop, restart, unchanged)
	}
}

func TestSwitchRollback(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := testRoles(t)
	n, err := Open(ctx, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)

	p, err := c.Switch(ctx, refs["a"], unsigned)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, []string{"cron", "db", "web"}, nil, nil, nil)
	stA := mustStatus(t, c)
	if stA.Current == nil || stA.Current.Role != "a" || !stA.Daemon {
		t.Fatalf("after switch to a: %+v", stA)
	}
	for _, name := range []string{"db", "web"} {
		if s := svc(stA, name); s.State != supervise.StateReady {
			t.Fatalf("%s is %s, want ready", name, s.State)
		}
	}
	before := pids(stA)

	t.Run("dry run changes nothing", func(t *testing.T) {
		p, err := c.Switch(ctx, refs["b"], unsignedDryRun)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, []string{"extra"}, []string{"cron"}, []string{"web"}, []string{"db"})
		if p.Reasons["web"] != "file /etc/web.conf changed" || !p.DryRun {
			t.Errorf("plan = %+v, want web restarted for its config file", p)
		}
		st := mustStatus(t, c)
		if st.Current.Digest != stA.Current.Digest || !reflect.DeepEqual(pids(st), before) || st.Pending != nil {
			t.Fatalf("dry run changed the node: %+v", st)
		}
	})

	t.Run("switch restarts only the changed service", func(t *testing.T) {
		p, err := c.Switch(ctx, refs["b"], unsigned)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, []string{"extra"}, []string{"cron"}, []string{"web"}, []string{"db"})
		st := mustStatus(t, c)
		now := pids(st)
		if st.Current.Role != "b" || st.Previous.Role != "a" || st.Pending != nil {
			t.Fatalf("status after switch: current %+v previous %+v pending %+v", st.Current, st.Previous, st.Pending)
		}
		if now["db"] != before["db"] {
			t.Errorf("db restarted (pid %d -> %d), it did not change", before["db"], now["db"])
		}
		if now["web"] == before["web"] || now["web"] == 0 {
			t.Errorf("web kept pid %d, its config changed", before["web"])
		}
		if _, ok := now["cron"]; ok {
			t.Errorf("cron still listed after b dropped it")
		}
		if svc(st, "extra").State != supervise.StateReady {
			t.Errorf("extra is %s, want ready", svc(st, "extra").State)
		}
		var log bytes.Buffer
		if err := c.Logs(ctx, "web", false, &log); err != nil || !strings.Contains(log.String(), "web conf: v2") {
			t.Errorf("web log = %q (%v), want the new config", log.String(), err)
		}
	})

	t.Run("manual rollback", func(t *testing.T) {
		if err := c.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		st := mustStatus(t, c)
		if st.Current.Role != "a" || st.Previous.Role != "b" || st.LastRollback.Reason != "rolled back by hand" {
			t.Fatalf("after rollback: current %+v previous %+v last %+v", st.Current, st.Previous, st.LastRollback)
		}
		waitReady(t, n)
		st = mustStatus(t, c)
		if _, ok := pids(st)["extra"]; ok || svc(st, "cron").State != supervise.StateRunning {
			t.Errorf("services after rollback to a: %+v", st.Services)
		}
	})

	t.Run("switch again", func(t *testing.T) {
		if _, err := c.Switch(ctx, refs["b"], unsigned); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("failed readiness rolls back", func(t *testing.T) {
		prev := pids(mustStatus(t, c))
		_, err := c.Switch(ctx, refs["bad"], unsigned)
		if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), `service "web" not ready`) {
			t.Fatalf("Switch(bad) = %v, want ErrRolledBack naming web", err)
		}
		st := mustStatus(t, c)
		if st.Current.Role != "b" || st.Previous.Role != "bad" || st.Pending != nil {
			t.Fatalf("after rollback current = %+v pending %+v, want b", st.Current, st.Pending)
		}
		r := st.LastRollback
		if r == nil || r.To != st.Current.Digest || !strings.Contains(r.Reason, `service "web" not ready`) {
			t.Fatalf("last rollback = %+v, want the reason recorded", r)
		}
		if s := svc(st, "web"); s.State != supervise.StateReady {
			t.Errorf("web is %s after rollback, want ready (b's web again)", s.State)
		}
		if now := pids(st); now["db"] != prev["db"] || now["extra"] != prev["extra"] {
			t.Errorf("rollback restarted unchanged services: %v -> %v", prev, now)
		}
	})

}

// waitReady waits for the daemon's services to be ready.
func waitReady(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(logCtx(context.Background()), 10*time.Second)
	defer cancel()
	if err := n.supervisor().WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSwitchWithoutDaemon(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := testRoles(t)
	cfg := testConfig(t)
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	api, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := api.(*Node); !ok {
		t.Fatalf("Connect without a daemon = %T, want *Node", api)
	}
	api.(*Node).Close()
	if _, err := n.Switch(ctx, refs["bad"], unsigned); err != nil {
		t.Fatal(err)
	}
	st := mustStatus(t, n)
	if st.Daemon || st.Pending == nil || st.Pending.To != st.Current.Digest || svc(st, "web").State != StateUnsupervised {
		t.Fatalf("status without daemon = %+v, want a pending switch and unsupervised services", st)
	}
	var buf bytes.Buffer
	st.Print(&buf)
	if !strings.Contains(buf.String(), "daemon:   not running") || !strings.Contains(buf.String(), "pending:") {
		t.Errorf("printed status:\n%s", buf.String())
	}
	// The daemon starts and finishes the health gate; bad's web never gets
	// ready and there is no previous image: the failure is recorded.
	if err := n.Rollback(ctx); !errors.Is(err, store.ErrNoPrevious) {
		t.Fatalf("Rollback with no previous = %v, want ErrNoPrevious", err)
	}
	c := runDaemon(t, n)
	testsupport.WaitFor(t, 10*time.Second, "the pending switch to be checked", func() bool { return mustStatus(t, c).Pending == nil })
	if s := svc(mustStatus(t, c), "web"); s.State != supervise.StateFailed {
		t.Errorf("web = %+v, want failed", s)
	}
}

func TestLogsFollow(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := writeLayout(t, filepath.Join(t.TempDir(), "layout"), role{Name: "tick",
		Files:    map[string]string{"/svc/tick.sh": "#!/bin/sh\ni=0\nwhile :; do echo tick $i; i=$((i+1)); sleep 0.02; done\n"},
		Services: []imagespec.Service{{Name: "tick", Exec: []string{"/svc/tick.sh"}, Restart: "always"}}})
	cfg := testConfig(t)
	cfg.Root = filepath.Join(t.TempDir(), "r")
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["tick"], unsigned); err != nil {
		t.Fatal(err)
	}
	for _, api := range []API{n, c} {
		t.Run(reflect.TypeOf(api).String(), func(t *testing.T) {
			fctx, cancel := context.WithCancel(ctx)
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- api.Logs(fctx, "tick", true, pw); pw.Close() }()
			var got bytes.Buffer
			buf := make([]byte, 4096)
			for strings.Count(got.String(), "tick") < 10 {
				k, err := pr.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(buf[:k])
			}
			cancel()
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			if err := <-done; err != nil {
				t.Fatalf("Logs: %v", err)
			}
		})
	}
	if err := n.Logs(ctx, "nope", false, io.Discard); err == nil || !strings.Contains(err.Error(), `no log for service "nope"`) {
		t.Errorf("Logs(nope) = %v", err)
	}
}
