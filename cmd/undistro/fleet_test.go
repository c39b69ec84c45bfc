package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetCommandErrors: the fleet commands' refusals name what to do.
func TestFleetCommandErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := filepath.Join(dir, "fleet.key")
	if out, err := undistro(ctx, "fleet", "keygen", "-o", key); err != nil || !strings.Contains(out, "wrote fleet key") {
		t.Fatalf("keygen: %q %v", out, err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	loose := filepath.Join(dir, "loose.key")
	b, _ := os.ReadFile(key)
	if err := os.WriteFile(loose, b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "node")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"keygen over a key", []string{"fleet", "keygen", "-o", key}, "the file exists"},
		{"keygen without -o", []string{"fleet", "keygen"}, "pass -o FILE"},
		{"fleet without a key", []string{"node", "--root", root, "run", "--fleet", "127.0.0.1:0"}, "fleet keygen -o FILE"},
		{"a key others can read", []string{"node", "--root", root, "run", "--fleet", "127.0.0.1:0", "--fleet-key", loose}, "chmod 600"},
		{"not an IP:PORT", []string{"node", "--root", root, "run", "--fleet", "somehost", "--fleet-key", key}, `fleet address "somehost": want IP:PORT`},
		{"bad timing", []string{"node", "--root", root, "run", "--fleet", "127.0.0.1:0", "--fleet-key", key, "--fleet-timing", "wan"}, `fleet timing "wan"`},
		{"no daemon", []string{"fleet", "--root", root, "members"}, "is `undistro node run --fleet …` running?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := undistro(ctx, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("undistro %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}
