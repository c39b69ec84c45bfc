package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/testsupport"
)

// TestMain doubles as the crash child: with STORE_CRASH_CHILD=ROOT,LAYOUT
// it pulls B from the layout into the store at ROOT, assembles its root and
// switches to it, as `undistro node switch oci:LAYOUT:b` does, dying
// wherever UNDISTRO_CRASH_AT says.
func TestMain(m *testing.M) {
	if v := os.Getenv("STORE_LOCK_CHILD"); v != "" {
		mode, root, _ := strings.Cut(v, ",")
		os.Exit(lockChild(mode, root))
	}
	if v := os.Getenv("STORE_CRASH_CHILD"); v != "" {
		root, lay, _ := strings.Cut(v, ",")
		if err := crashChild(root, lay); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(root, lay string) error {
	ctx := context.Background()
	s, err := Open(ctx, root)
	if err != nil {
		return err
	}
	defer s.Close()
	img, err := s.Pull(ctx, "oci:"+lay+":b")
	if err != nil {
		return err
	}
	if os.Getenv("STORE_CRASH_DERIVE") == "" {
		if _, err := s.Rootfs(ctx, img.Digest); err != nil {
			return err
		}
	}
	return s.Switch(ctx, img.Digest)
}

// runChild runs the child; it reports whether SIGKILL ended it.
func runChild(t *testing.T, root, lay string, env ...string) (killed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "STORE_CRASH_CHILD="+root+","+lay)...)
	var buf strings.Builder
	cmd.Stderr = &buf
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, buf.String()
		}
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, buf.String())
	}
	return false, buf.String()
}

// TestCrash kills "pull B, rootfs, switch to B" at every write step and
// checks that the reopened store runs A or B, complete, never a mix.
func TestCrash(t *testing.T) { crashEverywhere(t, 50) }

// TestCrashDerive is TestCrash for a switch that derives B's root from A's
// in place (as root): killed anywhere, the reopened store has A with its
// root assembled again, or B.
func TestCrashDerive(t *testing.T) {
	testsupport.RequireRoot(t, "a root is derived in place as root only (its read-only directories)")
	crashEverywhere(t, 40, "STORE_CRASH_DERIVE=1")
}

func crashEverywhere(t *testing.T, atLeast int, env ...string) {
	fx := newFixture(t)
	a, b := fx.digests["a"], fx.digests["b"]

	_, trace := runChild(t, storeOnA(t, fx), fx.layout, append(env, "UNDISTRO_CRASH_TRACE=1")...)
	n := strings.Count(trace, "crash point ")
	if len(env) > 0 && !strings.Contains(trace, "root.derive") {
		t.Fatalf("the switch did not derive B's root:\n%s", trace)
	}
	if n < atLeast {
		t.Fatalf("only %d crash points in pull+rootfs+switch, want at least %d:\n%s", n, atLeast, trace)
	}
	names := map[string]bool{}
	for l := range strings.Lines(trace) {
		if f := strings.Fields(l); len(f) == 4 {
			names[f[3]] = true
		}
	}
	t.Logf("%d crash points, %d kinds of write step", n, len(names))

	for i := 1; i <= n; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			root := storeOnA(t, fx)
			if killed, stderr := runChild(t, root, fx.layout, append(env, fmt.Sprintf("UNDISTRO_CRASH_AT=%d", i))...); !killed {
				t.Fatalf("child was not killed at point %d:\n%s", i, stderr)
			}
			s, err := Open(context.Background(), root)
			if err != nil {
				t.Fatalf("reopening after crash: %v", err)
			}
			defer s.Close()
			cur, err := s.Current()
			if err != nil {
				t.Fatalf("current after crash: %v", err)
			}
			prev, perr := s.Previous()
			switch cur.Digest {
			case a:
				if !errors.Is(perr, ErrNoPrevious) {
					t.Errorf("on A after crash, previous = %v, %v; want none", prev, perr)
				}
				checkRoot(t, s, a, imageA)
			case b:
				if perr != nil || prev.Digest != a {
					t.Errorf("on B after crash, previous = %v, %v; want A", prev, perr)
				}
				checkRoot(t, s, b, imageB)
			default:
				t.Fatalf("current after crash is %s, neither A nor B", cur.Digest)
			}
			checkClean(t, s.Root())
			// The interrupted operation can be run again to the end.
			if err := crashChild(root, fx.layout); err != nil {
				t.Fatalf("switching to B after the crash: %v", err)
			}
			if cur, err := s.Current(); err != nil || cur.Digest != b {
				t.Fatalf("current after retry = %v, %v; want B", cur, err)
			}
			checkRoot(t, s, b, imageB)
		})
	}
}

func checkRoot(t *testing.T, s *Store, digest string, ti testImage) {
	t.Helper()
	dir := filepath.Join(s.Root(), "roots", strings.TrimPrefix(digest, "sha256:"))
	if link, err := os.Readlink(filepath.Join(s.Root(), "current")); err != nil || filepath.Join(s.Root(), link) != dir {
		t.Errorf("current symlink = %q, %v; want %s", link, err, dir)
	}
	diffTrees(t, listing(t, dir), expect(ti.Layers))
}

// checkClean fails if a temporary leftover or a journal survived Open.
func checkClean(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{".", "blobs/sha256", "layers", "images", "roots"} {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if atomicfile.IsTemp(e.Name()) || e.Name() == "journal.json" {
				t.Errorf("left after recovery: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}
