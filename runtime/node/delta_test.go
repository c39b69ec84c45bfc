package node

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/supervise"
)

// TestSwitchDelta switches through images that each change one thing:
// one service's config file (exactly that file written, exactly that
// service restarted), a reload-declared service's config file (it gets
// its signal and keeps its PID) and a library another service's package
// run-depends on (that service restarts). Every other service keeps its
// PID throughout.
func TestSwitchDelta(t *testing.T) {
	testsupport.RequireRoot(t, "a switch derives the new root in place as root only")
	ctx := logCtx(context.Background())
	log := filepath.Join(t.TempDir(), "hup.log")
	hupSh := "#!/bin/sh\ntrap 'echo reloaded >> " + log + "' HUP\necho ready >&3\nwhile :; do sleep 0.05 & wait $!; done\n"
	db := imagespec.Service{Name: "db", Package: "db.sh", Packages: []string{"db.sh"}, Exec: []string{"/svc/db.sh"}, Restart: "always", Ready: ready3}
	web := imagespec.Service{Name: "web", Package: "web.sh", Packages: []string{"web.sh"}, Exec: []string{"/svc/web.sh"}, Restart: "always",
		Files: []string{"/etc/web.conf"}, Ready: ready3}
	hup := imagespec.Service{Name: "hup", Package: "hup.sh", Packages: []string{"hup.sh"}, Exec: []string{"/svc/hup.sh"}, Restart: "always",
		Files: []string{"/etc/hup.conf"}, Ready: ready3, Reload: &imagespec.Reload{Signal: "SIGHUP"}}
	dep := imagespec.Service{Name: "dep", Package: "dep.sh", Packages: []string{"dep.sh", "libx.so"}, Exec: []string{"/svc/dep.sh"}, Restart: "always", Ready: ready3}
	files := func(webConf, hupConf, lib string) map[string]string {
		return map[string]string{"/svc/db.sh": notify, "/svc/web.sh": webSh, "/svc/hup.sh": hupSh, "/svc/dep.sh": notify,
			"/etc/web.conf": webConf, "/etc/hup.conf": hupConf, "/lib/libx.so": lib}
	}
	svcs := []imagespec.Service{db, web, hup, dep}
	refs := writeLayout(t, filepath.Join(t.TempDir(), "layout"),
		role{Name: "a", Files: files("v1", "h1", "l1"), Services: svcs},
		role{Name: "web", Files: files("v2", "h1", "l1"), Services: svcs},
		role{Name: "hup", Files: files("v2", "h2", "l1"), Services: svcs},
		role{Name: "lib", Files: files("v2", "h2", "l2"), Services: svcs},
	)
	n, err := Open(ctx, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	before := pids(mustStatus(t, c))
	steps := []struct {
		to, restart, reload, file string
	}{
		{to: "web", restart: "web", file: "/etc/web.conf"},
		{to: "hup", reload: "hup", file: "/etc/hup.conf"},
		{to: "lib", restart: "dep"},
	}
	for _, step := range steps {
		p, err := c.Switch(ctx, refs[step.to], unsigned)
		if err != nil {
			t.Fatalf("switching to %s: %v", step.to, err)
		}
		if got := strings.Join(p.Restart, ","); got != step.restart {
			t.Errorf("to %s: restart %q, want %q (%v)", step.to, got, step.restart, p.Reasons)
		}
		if got := strings.Join(p.Reload, ","); got != step.reload {
			t.Errorf("to %s: reload %q, want %q", step.to, got, step.reload)
		}
		if p.Root == nil || !p.Root.Derived || p.Root.Written != 1 {
			t.Errorf("to %s: root %+v, want derived with exactly 1 entry written", step.to, p.Root)
		}
		if step.file != "" && (len(p.Files) != 1 || p.Files[0].Path != step.file || p.Files[0].Change != ChangeModify) {
			t.Errorf("to %s: files %+v, want only %s changed", step.to, p.Files, step.file)
		}
		st := mustStatus(t, c)
		now := pids(st)
		for name, pid := range now {
			if s := svc(st, name); s.State != supervise.StateReady {
				t.Errorf("to %s: %s is %s, want ready", step.to, name, s.State)
			}
			switch {
			case name == step.restart && pid == before[name]:
				t.Errorf("to %s: %s kept PID %d, want it restarted", step.to, name, pid)
			case name != step.restart && pid != before[name]:
				t.Errorf("to %s: %s PID %d -> %d, want it untouched", step.to, name, before[name], pid)
			}
		}
		before = now
	}
	b, _ := os.ReadFile(log)
	if got := strings.Count(string(b), "reloaded"); got != 1 {
		t.Errorf("hup got %d reload signals, want 1 (log %q)", got, b)
	}
	// What hup reads is the new file, in the root it runs in.
	if b, err := os.ReadFile(filepath.Join(n.activeLink(), "etc/hup.conf")); err != nil || string(b) != "h2" {
		t.Errorf("active hup.conf = %q, %v; want h2", b, err)
	}
}

// TestSwitchReloadSandboxed: a sandboxed (chrooted) service whose config
// file alone changed is reloaded, keeps its PID, and rereads the new file
// in the root it runs in, because the switch derived the new root from
// that very directory.
func TestSwitchReloadSandboxed(t *testing.T) {
	testsupport.RequireRoot(t, "chroot")
	bbPath := testsupport.RequireTool(t, "busybox", "apt-get install busybox-static")
	bb, err := os.ReadFile(bbPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := logCtx(context.Background())
	// busybox.sh: executable in the test image, and busybox runs the
	// applet named by its first argument when its name starts "busybox".
	sh := []string{"/bin/busybox.sh", "sh", "-c"}
	hup := imagespec.Service{Name: "hup", Package: "busybox.sh", Packages: []string{"busybox.sh"}, Restart: "always",
		Exec:  append(sh, `trap 'cat /etc/hup.conf > /tmp/seen' HUP; echo ready >&3; while :; do /bin/busybox.sh sleep 0.05 & wait $!; done`),
		Files: []string{"/etc/hup.conf"}, Ready: ready3, Reload: &imagespec.Reload{Signal: "SIGHUP"}}
	files := func(conf string) map[string]string {
		return map[string]string{"/bin/busybox.sh": string(bb), "/etc/hup.conf": conf,
			"/proc/.keep": "", "/dev/.keep": "", "/tmp/.keep": "", "/run/.keep": ""}
	}
	refs := writeLayout(t, filepath.Join(t.TempDir(), "layout"),
		role{Name: "a", Files: files("h1"), Services: []imagespec.Service{hup}},
		role{Name: "b", Files: files("h2"), Services: []imagespec.Service{hup}},
	)
	cfg := testConfig(t)
	cfg.NoChroot = false
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	pid := svc(mustStatus(t, c), "hup").PID
	p, err := c.Switch(ctx, refs["b"], unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Reload, ",") != "hup" || len(p.Restart) != 0 || p.Root == nil || !p.Root.Derived || p.Root.Written != 1 {
		t.Fatalf("plan reload %v restart %v root %+v, want hup reloaded, 1 entry written", p.Reload, p.Restart, p.Root)
	}
	seen := filepath.Join("/proc", strconv.Itoa(pid), "root/tmp/seen")
	testsupport.WaitFor(t, 10*time.Second, "hup to reread its config", func() bool {
		b, _ := os.ReadFile(seen)
		return string(b) == "h2"
	})
	if now := svc(mustStatus(t, c), "hup"); now.PID != pid || now.Restarts != 0 {
		t.Errorf("hup after the switch: %+v, want PID %d kept", now, pid)
	}
}
