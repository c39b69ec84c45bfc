package node

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/un-distro/undistro/internal/logctx"
)

// Extension is a part of the daemon that lives outside this package (the
// fleet agent is one): it adds routes to the daemon's API and runs beside
// the services. Run starts once the current image's services have been
// started and its ctx ends before they are stopped, so an extension can
// announce a graceful leave while the node still serves.
type Extension interface {
	// Register adds the extension's routes to the daemon's API (served on
	// the node's unix socket, mode 0600).
	Register(mux *http.ServeMux)
	// Run runs until ctx ends. An error is logged; it does not stop the
	// daemon.
	Run(ctx context.Context, n *Node) error
}

// Verify resolves ref and admits it as a pull would (signature, SBOM,
// role, o.Digest), fetching no layer, and returns its digest and role.
func (n *Node) Verify(ctx context.Context, ref string, o Admit) (digest, role string, err error) {
	src, _, err := n.resolve(ctx, ref, o, false)
	if err != nil {
		return "", "", err
	}
	if src.Meta != nil {
		role = src.Meta.Role
	}
	return src.Digest, role, nil
}

// runExtensions starts cfg.Extensions; the returned function cancels them
// and waits until they have returned.
func (n *Node) runExtensions(ctx context.Context) (stop func()) {
	ectx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, e := range n.cfg.Extensions {
		wg.Go(func() {
			if err := e.Run(ectx, n); err != nil && ectx.Err() == nil {
				logctx.From(ctx).Error("daemon extension stopped", "extension", fmt.Sprintf("%T", e), "err", err)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// SocketPath returns the daemon's socket for c (default Root/undistro.sock).
func (c Config) SocketPath() (string, error) {
	c, err := c.withDefaults()
	if err != nil {
		return "", err
	}
	return c.Socket, nil
}

// TrimMemory gives back the memory an operation paged in and the idle
// daemon does not need (what the daemon does after each API call): for
// extensions that switch or start up outside the API.
func TrimMemory() { trimMemory() }
