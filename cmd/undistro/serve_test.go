//go:build !undistro_node

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

func TestServeUserCommands(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want, err   string
	}{
		{"add from stdin", "s3cret\n", []string{"add", "ci", "--password-stdin"}, "added user ci", ""},
		{"add a second", "other\n", []string{"add", "ops"}, "added user ops", ""},
		{"set password", "new\n", []string{"add", "ci", "--password-stdin"}, "set the password of user ci", ""},
		{"list", "", []string{"list"}, "ci\nops\n", ""},
		{"remove", "", []string{"remove", "ops"}, "removed user ops", ""},
		{"remove missing", "", []string{"remove", "ops"}, "", "no such user \"ops\""},
		{"empty password", "\n", []string{"add", "x", "--password-stdin"}, "", "no password on standard input"},
		{"bad name", "pw\n", []string{"add", "a:b", "--password-stdin"}, "", "contains ':'"},
		{"list after", "", []string{"list"}, "ci\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "user"}, tc.args...)
			out, err := undistroIn(ctx, tc.stdin, append(args, "--data", data)...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("got %q %v, want %q", out, err, tc.want)
			}
		})
	}
}

// TestServeCommand starts `undistro serve` in process, checks it answers,
// and that a non-loopback address without users is refused with the fix.
func TestServeCommand(t *testing.T) {
	data := t.TempDir()
	_, err := undistroIn(t.Context(), "", "serve", "--addr", "0.0.0.0:0", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "undistro serve user add") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("non-loopback serve without users: %v", err)
	}

	url, line, stop := startServe(t, "--addr", "127.0.0.1:0", "--data", data)
	if !strings.Contains(line, "anyone who reaches it can push") {
		t.Fatalf("banner %q: want the open-registry warning", line)
	}
	resp, err := http.Get(url + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
	if _, err := undistroIn(t.Context(), "", "serve", "gc", "--data", data); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("gc beside a running server: %v, want a refusal", err)
	}
	stop()
	out, err := undistroIn(t.Context(), "", "serve", "gc", "--data", data)
	if err != nil || !strings.Contains(out, "deleted 0 of 0 blobs") {
		t.Fatalf("gc of an empty registry: %q %v", out, err)
	}
}

// startServe runs `undistro serve ARGS` in process until stop (or the end
// of the test) and returns its URL and banner line.
func startServe(t *testing.T, args ...string) (url, banner string, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"serve"}, args...))
	stop = testsupport.Background(t, "serve after cancel", func(ctx context.Context) error {
		defer pw.Close()
		return cmd.ExecuteContext(ctx)
	})
	banner, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the serve banner: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`).FindString(banner)
	if url == "" {
		t.Fatalf("banner %q: want the URL", banner)
	}
	return url, banner, stop
}

// TestNodeBinaryLinksNoRegistry: images carry the node binary
// (-tags undistro_node); the registry engine must not be in it.
func TestNodeBinaryLinksNoRegistry(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"),
		"list", "-deps", "-tags", "undistro_node", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/distribution/distribution/") || strings.HasSuffix(pkg, "/ci/origin") {
			t.Errorf("the node binary links %s", pkg)
		}
	}
}
