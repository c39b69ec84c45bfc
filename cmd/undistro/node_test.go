package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/trust"
)

// undistro runs the root command in process and returns its stdout.
func undistro(ctx context.Context, args ...string) (string, error) {
	return undistroIn(ctx, "", args...)
}

// undistroIn runs the root command in process with stdin and returns stdout.
func undistroIn(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
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
	unsigned := imagetest.WriteRoles(t, filepath.Join(t.TempDir(), "unsigned"),
		imagetest.Role{Name: "a", Files: map[string]string{"/svc/db.sh": up, "/etc/x": "unsigned"}, Services: svc(0)})
	signer := imagetest.NewSigner(t)
	signer.Sign(t, refs["a"])
	signer.Sign(t, refs["bad"])
	root := filepath.Join(t.TempDir(), "node")
	files := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notKey := write("x.pub", []byte("hello"))
	pubKey := write("k.pub", signer.PublicPEM)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	privKey := write("k.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyID := trust.KeyID(mustKey(t, signer.PublicPEM))
	n := func(args ...string) (string, error) {
		return undistro(ctx, append([]string{"node", "--root", root}, args...)...)
	}

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"status of a new node", []string{"status"}, "current:  (none)", ""},
		{"no trusted key", []string{"pull", refs["a"]}, "", "this node trusts no signing key: add the signer's public key with `undistro node trust add KEY.pub`"},
		{"trust list, none", []string{"trust", "list"}, "no trusted keys", ""},
		{"trust add a private key", []string{"trust", "add", privKey}, "", "adding trusted key " + privKey + ": this is a private key: a node needs only the public key"},
		{"trust add not a key", []string{"trust", "add", notKey}, "", "not a supported public key: no PEM block found"},
		{"status --key is gone", []string{"status", "--key", pubKey}, "", "unknown flag: --key"},
		{"dry run does not store --key", []string{"switch", refs["a"], "--dry-run", "--key", pubKey}, "", "--key stores a trusted key and --dry-run changes nothing: run 'undistro node trust add " + pubKey + "' first"},
		{"trust add", []string{"trust", "add", pubKey}, "trusted " + keyID + " ecdsa-p256\n", ""},
		{"trust list", []string{"trust", "list"}, keyID + "  ecdsa-p256", ""},
		{"trust list --json", []string{"trust", "list", "--json"}, `"id": "` + keyID + `"`, ""},
		{"unsigned refused", []string{"switch", unsigned["a"]}, "", "image is not signed: no cosign signature at sha256-"},
		{"pull", []string{"pull", refs["a"]}, refs["a"], ""},
		{"dry run", []string{"switch", refs["a"], "--dry-run"}, "would switch (nothing) -> sha256:", ""},
		{"switch without daemon", []string{"switch", refs["a"]}, "  start:    db\n", ""},
		{"status without daemon", []string{"status"}, "daemon:   not running", ""},
		{"status names the key", []string{"status"}, "signed by " + keyID, ""},
		{"rollback without previous", []string{"rollback"}, "", "no previous image to roll back to"},
		{"confirm without a trial", []string{"confirm"}, "", "no switch waits for confirmation: switch with --try DURATION first"},
		{"try a bad duration", []string{"switch", refs["a"], "--try", "soon"}, "", `invalid argument "soon" for "--try" flag`},
		{"no such service", []string{"logs", "nope"}, "", `no log for service "nope"`},
		{"empty root", []string{"--root", "", "status"}, "", "empty node root: pass --root DIR or set UNDISTRO_ROOT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := treeOf(t, root)
			out, err := n(tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if after := treeOf(t, root); after != before {
					t.Fatalf("a refused command changed the node root:\n%s\nbefore:\n%s", after, before)
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
	// The explicit opt-in runs an unsigned image; status shows it.
	if _, err := n("switch", unsigned["a"], "--insecure-allow-unsigned"); err != nil {
		t.Fatalf("switch --insecure-allow-unsigned: %v", err)
	}
	if st := nodeStatus(t, root); st.Current.Admission == nil || !st.Current.Admission.Unsigned {
		t.Fatalf("status --json does not record the unsigned image: %+v", st.Current)
	}
	if out, err := n("status"); err != nil || !strings.Contains(out, "UNSIGNED: admitted with --insecure-allow-unsigned") {
		t.Fatalf("status = %q, %v", out, err)
	}
	if out, err := n("trust", "remove", keyID[:15]); err != nil || !strings.Contains(out, "removed "+keyID) {
		t.Fatalf("trust remove = %q, %v", out, err)
	}
}

// treeOf lists a directory tree with modes and content hashes ("" if absent).
func treeOf(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		var c []byte
		if fi.Mode().IsRegular() {
			c, _ = os.ReadFile(p)
		}
		fmt.Fprintf(&b, "%s %s %x\n", p, fi.Mode(), sha256.Sum256(c))
		return nil
	})
	return b.String()
}

func mustKey(t *testing.T, b []byte) crypto.PublicKey {
	t.Helper()
	k, err := trust.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return k[0]
}

// TestNodeCommandWaitingForLock: a node command that finds the store locked
// by another process gives up when its context ends (SIGTERM in main),
// naming the holder.
func TestNodeCommandWaitingForLock(t *testing.T) {
	testsupport.RequireTool(t, "flock", "apt-get install util-linux")
	root := filepath.Join(t.TempDir(), "node")
	if _, err := undistro(context.Background(), "node", "--root", root, "status"); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(root, "lock")
	holder := exec.Command("flock", lock, "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	testsupport.WaitFor(t, 10*time.Second, "flock(1) to take the lock", func() bool {
		b, _ := os.ReadFile("/proc/locks")
		return strings.Contains(string(b), fmt.Sprintf(" %d ", holder.Process.Pid))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := undistro(ctx, "node", "--root", root, "gc")
	want := fmt.Sprintf("the store is locked by another process: held by pid %d (flock %s sleep 60)", holder.Process.Pid, lock)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("node gc on a locked store = %v, want %q", err, want)
	}
}

// TestNodeTrustAddStdin: `trust add -` reads the key from stdin; a private
// key there is refused and nothing is stored.
func TestNodeTrustAddStdin(t *testing.T) {
	root := filepath.Join(t.TempDir(), "node")
	signer := imagetest.NewSigner(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	for _, tc := range []struct {
		name, in, want, wantErr string
	}{
		{"private key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "", "adding trusted key stdin: this is a private key"},
		{"public key", string(signer.PublicPEM), "trusted " + trust.KeyID(mustKey(t, signer.PublicPEM)), ""},
	} {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetIn(strings.NewReader(tc.in))
		cmd.SetArgs([]string{"node", "--root", root, "trust", "add", "-"})
		err := cmd.ExecuteContext(context.Background())
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%s: %v, want %q", tc.name, err, tc.wantErr)
			}
			if _, err := os.Stat(trust.Dir(root)); !os.IsNotExist(err) {
				t.Fatalf("%s: refused key left %s: %v", tc.name, trust.Dir(root), err)
			}
			continue
		}
		if err != nil || !strings.Contains(out.String(), tc.want) {
			t.Fatalf("%s: %q, %v, want %q", tc.name, out.String(), err, tc.want)
		}
	}
}
