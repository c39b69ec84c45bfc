package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/internal/testsupport"
)

// crashChild switches the node at root to ref and exits; run with
// UNDISTRO_CRASH_AT=N it is killed at its Nth write step.
func crashChild(root, ref string) {
	// The child logs to its stderr, which the test shows when it fails.
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	n, err := Open(ctx, Config{Root: root, NoChroot: true})
	if err == nil {
		_, err = n.Switch(ctx, ref, unsigned)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// TestSwitchCrash kills a switch from image a to image b at every write
// step (the store's and the node's) and checks after each that the node
// opens on a or on b, never a mix: the current root holds exactly that
// image's config, status says which, a pending switch is recorded when b
// became current before its health gate ran, and switching again finishes.
func TestSwitchCrash(t *testing.T) {
	testsupport.SkipShort(t, "spawns a process per write step")
	ctx := logCtx(context.Background())
	refs := testRoles(t)
	template := filepath.Join(t.TempDir(), "template")
	n, err := Open(ctx, Config{Root: template, NoChroot: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	a, _ := n.current()
	n.Close()
	conf := map[string]int{}
	for i := 1; ; i++ {
		root := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if out, err := exec.Command("cp", "-a", template, root).CombinedOutput(); err != nil {
			t.Fatalf("copying the template: %v\n%s", err, out)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "NODE_CRASH_ROOT="+root, "NODE_CRASH_REF="+refs["b"], fmt.Sprintf("UNDISTRO_CRASH_AT=%d", i))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
		if err != nil && !killed {
			t.Fatalf("step %d: switch failed without a crash: %v\n%s", i, err, out)
		}

		childErr := err
		n, err := Open(ctx, Config{Root: root, NoChroot: true})
		if err != nil {
			t.Fatalf("step %d: reopening after the crash: %v", i, err)
		}
		st, err := n.Status(ctx)
		if err != nil {
			t.Fatalf("step %d: status: %v", i, err)
		}
		if st.Current == nil {
			t.Fatalf("step %d: no current image after the crash (child: %v)\n%s", i, childErr, out)
		}
		role := st.Current.Role
		ents, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if atomicfile.IsTemp(e.Name()) {
				t.Errorf("step %d: temp file %s left after reopening", i, e.Name())
			}
		}
		rootfs, err := n.st.Rootfs(ctx, st.Current.Digest)
		if err != nil {
			t.Fatalf("step %d: %s's root: %v", i, role, err)
		}
		b, err := os.ReadFile(filepath.Join(rootfs, "etc/web.conf"))
		want := map[string]string{"a": "v1", "b": "v2"}[role]
		if err != nil || string(b) != want {
			t.Fatalf("step %d: current is %s but its root holds web.conf %q (%v), want %q", i, role, b, err, want)
		}
		// The node's writable /etc follows the current image once merged
		// again (as the daemon's start does): a merge the crash cut short
		// is completed or undone, never taken for a local edit.
		if _, err := n.Reconfigure(ctx); err != nil {
			t.Fatalf("step %d: merging /etc of %s after the crash: %v", i, role, err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "etc/web.conf")); err != nil || string(b) != want {
			t.Fatalf("step %d: current is %s but ROOT/etc/web.conf is %q (%v), want %q", i, role, b, err, want)
		}
		for _, dir := range []string{filepath.Join(root, "etc"), filepath.Join(root, "conf")} {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if atomicfile.IsTemp(e.Name()) {
					t.Errorf("step %d: temp file %s left in %s", i, e.Name(), dir)
				}
			}
		}
		if role == "b" && (st.Pending == nil || st.Pending.To != st.Current.Digest) && killed {
			t.Fatalf("step %d: b is current but no pending health gate is recorded: %+v", i, st.Pending)
		}
		if role == "a" && st.Current.Digest != a.Digest {
			t.Fatalf("step %d: current is %s, want a %s", i, st.Current.Digest, a.Digest)
		}
		conf[role]++
		if _, err := n.Switch(ctx, refs["b"], unsigned); err != nil {
			t.Fatalf("step %d: switching again after the crash: %v", i, err)
		}
		if st, _ := n.Status(ctx); st.Current == nil || st.Current.Role != "b" {
			t.Fatalf("step %d: switching again did not finish: %+v", i, st.Current)
		}
		n.Close()
		if !killed {
			t.Logf("%d write steps; after a crash the node was on a %d times, on b %d times", i-1, conf["a"], conf["b"]-1)
			if i-1 < 10 || conf["a"] == 0 || conf["b"] <= 1 {
				t.Fatalf("too few crash points exercised: %v", conf)
			}
			return
		}
	}
}
