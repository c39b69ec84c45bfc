package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
)

// undistro runs the root command in process and returns its stdout.
func undistro(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func nodeStatus(t *testing.T, root string) node.Status {
	t.Helper()
	out, err := undistro(context.Background(), "node", "--root", root, "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st node.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func TestNodeCommands(t *testing.T) {
	ctx := context.Background()
	up := "#!/bin/sh\necho \"$0 up\"\necho ready >&3\nexec sleep 300\n"
	stuck := "#!/bin/sh\nexec sleep 300\n"
	svc := func(ready imagespec.Duration) []imagespec.Service {
		return []imagespec.Service{{Name: "db", Exec: []string{"/svc/db.sh"}, Restart: "never",
			Ready: &imagespec.Ready{NotifyFD: 3, Timeout: ready}}}
	}
	refs := imagetest.WriteRoles(t, filepath.Join(t.TempDir(), "layout"),
		imagetest.Role{Name: "a", Files: map[string]string{"/svc/db.sh": up}, Services: svc(0)},
		imagetest.Role{Name: "bad", Files: map[string]string{"/svc/db.sh": stuck}, Services: svc(imagespec.Duration(200 * time.Millisecond))},
	)
	root := t.TempDir()
	notKey := filepath.Join(t.TempDir(), "x.pub")
	if err := os.WriteFile(notKey, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := func(args ...string) (string, error) {
		return undistro(ctx, append([]string{"node", "--root", root}, args...)...)
	}

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"pull", []string{"pull", refs["a"]}, refs["a"], ""},
		{"dry run", []string{"switch", refs["a"], "--dry-run"}, "would switch (nothing) -> sha256:", ""},
		{"switch without daemon", []string{"switch", refs["a"]}, "  start:    db\n", ""},
		{"status without daemon", []string{"status"}, "daemon:   not running", ""},
		{"rollback without previous", []string{"rollback"}, "", "no previous image to roll back to"},
		{"bad key", []string{"--key", notKey, "status"}, "", "not a PEM public key"},
		{"no such service", []string{"logs", "nope"}, "", `no log for service "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := n(tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("out = %q, err = %v, want %q", out, err, tc.want)
			}
		})
	}

	// The daemon finishes the pending switch's health gate and then serves
	// the commands on its socket.
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := undistro(dctx, "node", "--root", root, "run", "--no-chroot", "--health-timeout", "5s")
		done <- err
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("node run: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "undistro.sock")); !os.IsNotExist(err) {
			t.Errorf("socket left behind: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for st := nodeStatus(t, root); !st.Daemon || st.Pending != nil || len(st.Services) == 0 || st.Services[0].State != "ready"; st = nodeStatus(t, root) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon never got db ready: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := n("logs", "db"); err != nil || !strings.Contains(out, "/svc/db.sh up") {
		t.Fatalf("logs = %q, %v", out, err)
	}
	_, err := n("switch", refs["bad"])
	if err == nil || !strings.Contains(err.Error(), "switch rolled back to sha256:") || !strings.Contains(err.Error(), `service "db" not ready`) {
		t.Fatalf("switch to bad = %v, want a rollback naming db", err)
	}
	st := nodeStatus(t, root)
	if st.Current.Role != "a" || st.LastRollback == nil || !strings.Contains(st.LastRollback.Reason, "not ready") {
		t.Fatalf("status after the rollback = %+v", st)
	}
	if out, err := n("status"); err != nil || !strings.Contains(out, "rollback: ") || !strings.Contains(out, "db ") {
		t.Fatalf("status = %q, %v", out, err)
	}
	if out, err := n("rollback"); err != nil || !strings.Contains(out, "rolled back to sha256:") {
		t.Fatalf("rollback = %q, %v", out, err)
	}
	if st := nodeStatus(t, root); st.Current.Role != "bad" || st.LastRollback.Reason != "rolled back by hand" {
		t.Fatalf("status after rollback by hand = %+v", st)
	}
}
