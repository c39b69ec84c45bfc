//go:build !undistro_node

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/drift"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/node"
)

// TestNodeConfCommands drives switch --node-config, reconfigure, drift and
// drift --patch (applied with git apply to a checkout) and the dry run's
// merge decisions through the CLI.
func TestNodeConfCommands(t *testing.T) {
	git := testsupport.RequireTool(t, "git", "apt-get install git")
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "node")
	cfg := filepath.Join(t.TempDir(), "node.toml")
	writeCfg := func(workers int) {
		s := "name = \"n1\"\ntags = [\"n1\", \"web\"]\n[values.web]\nworkers = " + strconv.Itoa(workers) + "\n"
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(2)
	const motd = "welcome\n"
	files := func(v string) map[string]string {
		return map[string]string{"/etc/app.conf": "workers = {{.Values.workers}}\n", "/etc/motd": motd, "/etc/v": v}
	}
	src := map[string]string{"/etc/app.conf": "images/web/app.conf", "/etc/motd": "images/base/motd", "/etc/v": "images/web/v"}
	refs := imagetest.WriteRoles(t, filepath.Join(t.TempDir(), "layout"),
		imagetest.Role{Name: "a", Files: files("1\n"), Sources: src, Templates: map[string]bool{"/etc/app.conf": true}},
		imagetest.Role{Name: "b", Files: files("2\n"), Sources: src, Templates: map[string]bool{"/etc/app.conf": true}})
	run := func(args ...string) string {
		t.Helper()
		out, err := undistro(ctx, append([]string{"node", "--root", root, "--node-config", cfg}, args...)...)
		if err != nil {
			t.Fatalf("node %v: %v\n%s", args, err, out)
		}
		return out
	}
	run("switch", refs["a"], "--insecure-allow-unsigned")
	live := func(p string) string {
		b, _ := os.ReadFile(etcmerge.Open(root).Live(p))
		return string(b)
	}
	if got := live("/etc/app.conf"); got != "workers = 2\n" {
		t.Fatalf("rendered app.conf = %q", got)
	}
	writeCfg(4)
	if out := run("reconfigure"); !strings.Contains(out, "reconfigured") || live("/etc/app.conf") != "workers = 4\n" {
		t.Fatalf("reconfigure: %q, app.conf %q", out, live("/etc/app.conf"))
	}
	if out := run("drift"); !strings.Contains(out, "no recorded edits") {
		t.Fatalf("drift on a clean node: %q", out)
	}

	// An edit, recorded as the daemon's tracker does.
	tr, err := drift.NewTracker(ctx, root, drift.WithoutFanotify())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	testsupport.Background(t, "tracker", tr.Run)
	edited := "welcome to n1\n"
	if err := os.WriteFile(etcmerge.Open(root).Live("/etc/motd"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "the edit in node drift", func() bool {
		return strings.Contains(run("drift"), "/etc/motd edited")
	})
	var rep node.DriftReport
	if err := json.Unmarshal([]byte(run("drift", "--json")), &rep); err != nil || len(rep.Files) != 1 || rep.Files[0].Record.Event != "IN_CLOSE_WRITE" {
		t.Fatalf("drift --json: %+v, %v", rep, err)
	}

	// The dry run shows the edit kept: b does not change motd.
	var plan node.Plan
	if err := json.Unmarshal([]byte(run("switch", refs["b"], "--insecure-allow-unsigned", "--dry-run", "--json")), &plan); err != nil {
		t.Fatal(err)
	}
	decisions := map[string]string{}
	for _, d := range plan.Etc {
		decisions[d.Path] = d.Action
	}
	if decisions["/etc/motd"] != etcmerge.KeepLocal || decisions["/etc/v"] != etcmerge.Update {
		t.Fatalf("dry run decisions %v", decisions)
	}

	// The patch applies to a checkout of the recipes repository.
	repo := t.TempDir()
	testsupport.WriteFiles(t, repo, map[string]string{"images/base/motd": motd, "images/web/app.conf": "workers = {{.Values.workers}}\n"})
	gitIn := func(args ...string) {
		t.Helper()
		c := exec.Command(git, args...)
		c.Dir = repo
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitIn("init", "-q")
	gitIn("add", ".")
	gitIn("commit", "-qm", "recipes")
	patch := filepath.Join(t.TempDir(), "p")
	if err := os.WriteFile(patch, []byte(run("drift", "--patch")), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn("apply", patch)
	if b, _ := os.ReadFile(filepath.Join(repo, "images/base/motd")); string(b) != edited {
		t.Fatalf("patched motd = %q", b)
	}
	run("switch", refs["b"], "--insecure-allow-unsigned")
	if live("/etc/motd") != edited || live("/etc/v") != "2\n" {
		t.Fatalf("after the switch motd %q v %q", live("/etc/motd"), live("/etc/v"))
	}
}
