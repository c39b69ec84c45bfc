package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/policy"
	"github.com/un-distro/undistro/runtime/policy/layoutreg"
	"github.com/un-distro/undistro/runtime/trust"
)

// storeTree lists every path under root with its mode and a hash of its
// content (or link target), so a test can tell that nothing changed.
func storeTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var content []byte
		switch {
		case fi.Mode().IsRegular():
			content, err = os.ReadFile(p)
		case fi.Mode()&fs.ModeSymlink != 0:
			var l string
			l, err = os.Readlink(p)
			content = []byte(l)
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		fmt.Fprintf(&b, "%s %s %s\n", rel, fi.Mode(), hex.EncodeToString(sum[:8]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// refusedUnchanged runs op, which must fail with want (a sentinel) and a
// message containing msg, and checks that the node root did not change.
func refusedUnchanged(t *testing.T, root string, want error, msg string, op func() error) {
	t.Helper()
	before := storeTree(t, root)
	err := op()
	if err == nil {
		t.Fatalf("accepted; want %v: %s", want, msg)
	}
	t.Logf("refused: %v", err)
	if !errors.Is(err, want) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q, want %v containing %q", err, want, msg)
	}
	if after := storeTree(t, root); after != before {
		t.Fatalf("a refused image changed the node root:\n%s\nbefore:\n%s", after, before)
	}
}

// trustRoles are base and web (web newer), plus an older web.
func trustRoles(t *testing.T, dir string) map[string]string {
	t.Helper()
	svc := []imagespec.Service{{Name: "s", Exec: []string{"/svc/s.sh"}, Restart: "always"}}
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	refs := writeLayout(t, filepath.Join(dir, "new"),
		role{Name: "base", Files: map[string]string{"/svc/s.sh": plain, "/etc/v": "base"}, Services: svc, Created: day(2)},
		role{Name: "web", Files: map[string]string{"/svc/s.sh": plain, "/etc/v": "web2"}, Services: svc, Created: day(2)},
	)
	old := writeLayout(t, filepath.Join(dir, "old"),
		role{Name: "web", Files: map[string]string{"/svc/s.sh": plain, "/etc/v": "web1"}, Services: svc, Created: day(1)})
	refs["oldweb"] = old["web"]
	return refs
}

func openNode(t *testing.T) *Node {
	t.Helper()
	n, err := Open(logCtx(context.Background()), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func addKey(t *testing.T, root string, s *imagetest.Signer) {
	t.Helper()
	if _, err := trust.Add(root, "test.pub", s.PublicPEM); err != nil {
		t.Fatal(err)
	}
}

func TestUnsignedRefusedWithoutKeys(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	n := openNode(t)
	const hint = "this node trusts no signing key: add the signer's public key with `undistro node trust add KEY.pub`, or pass --insecure-allow-unsigned"
	refusedUnchanged(t, n.Root(), ErrUnverified, hint, func() error {
		_, err := n.Switch(ctx, refs["web"], SwitchOptions{})
		return err
	})
	refusedUnchanged(t, n.Root(), ErrUnverified, hint, func() error {
		_, err := n.Pull(ctx, refs["web"], PullOptions{})
		return err
	})
	// With keys, an unsigned image is refused by the policy.
	addKey(t, n.Root(), imagetest.NewSigner(t))
	refusedUnchanged(t, n.Root(), policy.ErrUnsigned, "no cosign signature at sha256-", func() error {
		_, err := n.Switch(ctx, refs["web"], SwitchOptions{})
		return err
	})
	// The explicit opt-in runs it, and status says so, in text and JSON.
	if _, err := n.Switch(ctx, refs["web"], unsigned); err != nil {
		t.Fatal(err)
	}
	st := mustStatus(t, n)
	if a := st.Current.Admission; a == nil || !a.Unsigned || a.Ref != refs["web"] {
		t.Fatalf("status admission %+v, want unsigned for %s", a, refs["web"])
	}
	var text bytes.Buffer
	st.Print(&text)
	if !strings.Contains(text.String(), "UNSIGNED: admitted with --insecure-allow-unsigned at ") {
		t.Fatalf("status does not show the unsigned image:\n%s", text.String())
	}
}

func TestSignedAndRoleBound(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	s := imagetest.NewSigner(t)
	digest := s.Sign(t, refs["web"])
	baseDigest := s.Sign(t, refs["base"])
	n := openNode(t)
	addKey(t, n.Root(), s)

	t.Run("layout entry web pointing at base's signed manifest", func(t *testing.T) {
		dir := strings.TrimSuffix(strings.TrimPrefix(refs["base"], "oci:"), ":base")
		evil := filepath.Join(t.TempDir(), "evil")
		if out, err := cpR(dir, evil); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		h, _ := hashOf(baseDigest)
		img, err := layout.Path(evil).Image(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := layoutreg.WriteImage(evil, img, "web"); err != nil {
			t.Fatal(err)
		}
		refusedUnchanged(t, n.Root(), ErrWrongRole, `it is "base", not "web" (the role named by the reference)`, func() error {
			_, err := n.Switch(ctx, "oci:"+evil+":web", SwitchOptions{})
			return err
		})
	})

	t.Run("signed web accepted", func(t *testing.T) {
		if _, err := n.Switch(ctx, refs["web"], SwitchOptions{}); err != nil {
			t.Fatal(err)
		}
		a := mustStatus(t, n).Current.Admission
		if a == nil || a.Unsigned || len(a.KeyIDs) != 1 || a.Digest != digest {
			t.Fatalf("admission %+v, want signed by one key", a)
		}
	})

	t.Run("older web refused, then allowed", func(t *testing.T) {
		s.Sign(t, refs["oldweb"])
		refusedUnchanged(t, n.Root(), ErrDowngrade, "it was built from commits of 2026-01-01T00:00:00Z, the current image", func() error {
			_, err := n.Switch(ctx, refs["oldweb"], SwitchOptions{})
			return err
		})
		if _, err := n.Switch(ctx, refs["oldweb"], SwitchOptions{Admit: Admit{AllowDowngrade: true}}); err != nil {
			t.Fatal(err)
		}
		if a := mustStatus(t, n).Current.Admission; a == nil || !a.Downgrade {
			t.Fatalf("admission %+v, want the downgrade recorded", a)
		}
		// Back to the newer one, then rollback to the older: allowed.
		if _, err := n.Switch(ctx, refs["web"], SwitchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := n.Rollback(ctx); err != nil {
			t.Fatalf("rollback to the older previous image: %v", err)
		}
	})
}

func TestSignatureCopiedToAnotherRepository(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	base, web := reg+"/undistro/base:latest", reg+"/undistro/web:latest"
	push(t, refs["base"], base)
	s := imagetest.NewSigner(t)
	digest := s.Sign(t, base)
	// The attacker pushes base's manifest as web, with base's signature
	// and SBOM beside it.
	push(t, refs["base"], web)
	for _, suffix := range []string{"sig", "att"} {
		src, _ := name.NewTag(reg + "/undistro/base:" + imagetest.AttachmentTag(digest, suffix))
		img, err := remote.Image(src)
		if err != nil {
			t.Fatal(err)
		}
		dst, _ := name.NewTag(reg + "/undistro/web:" + imagetest.AttachmentTag(digest, suffix))
		if err := remote.Write(dst, img); err != nil {
			t.Fatal(err)
		}
	}
	n := openNode(t)
	addKey(t, n.Root(), s)
	refusedUnchanged(t, n.Root(), policy.ErrWrongRepository, fmt.Sprintf(`was made for repository "%s/undistro/base", not "%s/undistro/web"`, reg, reg), func() error {
		_, err := n.Switch(ctx, web, SwitchOptions{})
		return err
	})
	// Even with --role base the signature stays bound to its repository.
	refusedUnchanged(t, n.Root(), policy.ErrWrongRepository, "a signature copied from another repository", func() error {
		_, err := n.Pull(ctx, web, PullOptions{Admit: Admit{Role: "base"}})
		return err
	})
	if _, err := n.Switch(ctx, base, SwitchOptions{}); err != nil {
		t.Fatalf("the genuine base: %v", err)
	}
}

func TestTrustChangeReachesRunningDaemon(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	s := imagetest.NewSigner(t)
	s.Sign(t, refs["web"])
	n := openNode(t)
	c := runDaemon(t, n)
	refusedUnchanged(t, n.Root(), ErrUnverified, "trusts no signing key", func() error {
		_, err := c.Switch(ctx, refs["web"], SwitchOptions{})
		return err
	})
	addKey(t, n.Root(), imagetest.NewSigner(t)) // another key: the daemon sees it, the image is not signed by it
	refusedUnchanged(t, n.Root(), policy.ErrBadSignature, "none made by the trusted key(s)", func() error {
		_, err := c.Switch(ctx, refs["web"], SwitchOptions{})
		return err
	})
	addKey(t, n.Root(), s) // as `undistro node trust add` does, beside the daemon
	if _, err := c.Switch(ctx, refs["web"], SwitchOptions{}); err != nil {
		t.Fatalf("switch after trust add, same daemon: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Current == nil || st.Current.Admission == nil || st.Current.Admission.KeyIDs[0] != trust.KeyID(mustParse(t, s.PublicPEM)) {
		t.Fatalf("status %+v, %v: want web admitted by the added key", st.Current, err)
	}
	// `trust remove` reaches the daemon too.
	if _, err := trust.Remove(n.Root(), trust.KeyID(mustParse(t, s.PublicPEM))); err != nil {
		t.Fatal(err)
	}
	refusedUnchanged(t, n.Root(), policy.ErrBadSignature, "none made by the trusted key(s)", func() error {
		_, err := c.Pull(ctx, refs["web"], PullOptions{})
		return err
	})
}

// TestConcurrentSwitchesReportTheirFrom switches one root from two nodes
// (as two daemon-less commands would) at once: each plan's From must be
// what that switch really replaced.
func TestConcurrentSwitchesReportTheirFrom(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := testRoles(t)
	cfg := testConfig(t)
	n1, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	n2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if _, err := n1.Switch(ctx, refs["a"], unsigned); err != nil {
		t.Fatal(err)
	}
	a, _ := n1.current()
	var wg sync.WaitGroup
	plans := make([]*Plan, 2)
	errs := make([]error, 2)
	for i, p := range []struct {
		n   *Node
		ref string
	}{{n1, refs["b"]}, {n2, refs["bad"]}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plans[i], errs[i] = p.n.Switch(ctx, p.ref, unsigned)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p1, p2 := plans[0], plans[1]
	if !(p1.From == a.Digest && p2.From == p1.To) && !(p2.From == a.Digest && p1.From == p2.To) {
		t.Fatalf("plans from %s to %s and from %s to %s: want one from a (%s), the other from the first's target", short(p1.From), short(p1.To), short(p2.From), short(p2.To), short(a.Digest))
	}
}

func TestEmptyRoot(t *testing.T) {
	if _, err := Open(logCtx(context.Background()), Config{}); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("Open with an empty root = %v, want ErrNoRoot", err)
	}
	if _, err := Connect(logCtx(context.Background()), Config{}); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("Connect with an empty root = %v, want ErrNoRoot", err)
	}
}

func TestRoleOf(t *testing.T) {
	for ref, want := range map[string]string{
		"oci:/x/out:web": "web",
		"oci:/x/out":     "",
		"oci:/x/out@sha256:" + strings.Repeat("a", 64):                 "",
		"127.0.0.1:5000/undistro/web:latest":                           "web",
		"registry.example/team/base@sha256:" + strings.Repeat("b", 64): "base",
		"Not A Ref": "",
	} {
		if got := roleOf(ref); got != want {
			t.Errorf("roleOf(%q) = %q, want %q", ref, got, want)
		}
	}
}
