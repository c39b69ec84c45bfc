package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

func TestAdmitDigestAndVerify(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := trustRoles(t, t.TempDir())
	s := imagetest.NewSigner(t)
	web := s.Sign(t, refs["web"])
	base := s.Sign(t, refs["base"])
	n := openNode(t)
	addKey(t, n.Root(), s)

	digest, role, err := n.Verify(ctx, refs["web"], Admit{Role: "web"})
	if err != nil || digest != web || role != "web" {
		t.Fatalf("Verify = %s %s %v, want %s web", digest, role, err, web)
	}
	if _, _, err := n.Verify(ctx, refs["web"], Admit{Role: "base"}); !errors.Is(err, ErrWrongRole) {
		t.Errorf("Verify as another role: %v, want ErrWrongRole", err)
	}
	refusedUnchanged(t, n.Root(), ErrOtherDigest, "it is "+web+", not "+base, func() error {
		_, err := n.Switch(ctx, refs["web"], SwitchOptions{Admit: Admit{Role: "web", Digest: base}})
		return err
	})
	if _, err := n.Switch(ctx, refs["web"], SwitchOptions{Admit: Admit{Role: "web", Digest: web}}); err != nil {
		t.Fatalf("switch pinned to its own digest: %v", err)
	}
}

// ext is an Extension that counts its runs and serves one route.
type ext struct {
	running, stopped atomic.Int32
}

func (e *ext) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/ext", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
}

func (e *ext) Run(ctx context.Context, n *Node) error {
	e.running.Add(1)
	<-ctx.Done()
	e.stopped.Add(1)
	return nil
}

func TestExtensionRunsInTheDaemon(t *testing.T) {
	e := &ext{}
	cfg := testConfig(t)
	cfg.Extensions = []Extension{e}
	n, err := Open(logCtx(context.Background()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	t.Cleanup(func() { // after the daemon has stopped (cleanups run last first)
		if e.stopped.Load() != 1 {
			t.Errorf("the extension was not stopped with the daemon")
		}
	})
	c := runDaemon(t, n)
	resp, err := c.send(logCtx(context.Background()), http.MethodGet, "/v1/ext", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Errorf("extension route answered %q", b)
	}
	testsupport.WaitFor(t, 10*time.Second, "the extension running", func() bool { return e.running.Load() == 1 })
	if p, err := cfg.SocketPath(); err != nil || !strings.HasSuffix(p, "undistro.sock") {
		t.Errorf("SocketPath = %q, %v", p, err)
	}
}
