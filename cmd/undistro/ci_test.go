//go:build !undistro_node

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestCIPlanCLI runs `ci plan` in process on a two-commit repository: the
// second commit changes the path source of the only recipe.
func TestCIPlanCLI(t *testing.T) {
	testsupport.RequireTool(t, "git", "apt-get install git")
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("recipes/a.toml", "name = \"a\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \"src/a\"\n[build]\nscript = \"true\"\n")
	write("images/r.toml", "packages = [\"a\"]\n")
	write("src/a/x", "1\n")
	git("add", "-A")
	git("commit", "-qm", "one")
	write("src/a/x", "2\n")
	git("commit", "-qam", "two")

	ctx := context.Background()
	out, err := undistro(ctx, "ci", "plan", "--repo", dir, "--base", "HEAD~1", "--json")
	if err != nil {
		t.Fatalf("ci plan --json: %v", err)
	}
	var p struct {
		Include  []map[string]string `json:"include"`
		Packages []string            `json:"packages"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("ci plan --json output %q: %v", out, err)
	}
	if len(p.Include) != 1 || p.Include[0]["role"] != "r" || len(p.Packages) != 1 || p.Packages[0] != "a" {
		t.Fatalf("plan = %+v", p)
	}
	if out, err := undistro(ctx, "ci", "plan", "--repo", dir, "--base", "HEAD~1"); err != nil || !strings.Contains(out, "roles       r\n") {
		t.Fatalf("ci plan: %v\n%s", err, out)
	}
	if _, err := undistro(ctx, "ci", "plan", "--repo", dir, "--base", "v9"); err == nil || !strings.Contains(err.Error(), `unknown revision "v9"`) {
		t.Fatalf("ci plan --base v9: %v", err)
	}
	// The step summary ($GITHUB_STEP_SUMMARY) is appended to, failures too.
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	if _, err := undistro(ctx, "ci", "publish", "--repo", dir, "--base", "HEAD~1", "--registry", "127.0.0.1:1/x"); err == nil || !strings.Contains(err.Error(), "--keyless") {
		t.Fatalf("ci publish without a key: %v", err)
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.HasPrefix(string(b), "earlier step\n## ❌ undistro publish") || !strings.Contains(string(b), "no signing key") {
		t.Fatalf("step summary: %v\n%s", err, b)
	}
}
