package node

import (
	"context"
	"crypto"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/runtime/policy/layoutreg"
	"github.com/un-distro/undistro/runtime/trust"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/supervise"
)

type role = imagetest.Role

var writeLayout = imagetest.WriteRoles

// testConfig is a node config for tests: services on host paths, quick
// backoff, a short health gate.
func testConfig(t *testing.T) Config {
	return Config{
		Root:          t.TempDir(),
		HealthTimeout: 5 * time.Second,
		NoChroot:      true,
		Backoff:       supervise.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, BurstLimit: 3},
	}
}

// runDaemon starts n.Run and returns a client of it; the daemon stops at
// test end.
func runDaemon(t *testing.T, n *Node) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(logCtx(context.Background()))
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	var c *Client
	testsupport.WaitFor(t, 10*time.Second, "the daemon to answer on "+n.cfg.Socket, func() bool {
		var err error
		c, err = Dial(logCtx(context.Background()), n.cfg.Socket)
		return err == nil
	})
	return c
}

// svc returns the status of service name, or a zero status.
func svc(st *Status, name string) supervise.ServiceStatus {
	for _, s := range st.Services {
		if s.Name == name {
			return s
		}
	}
	return supervise.ServiceStatus{}
}

// unsigned and unsignedDryRun switch to the unsigned test images (the node
// refuses them without this opt-in).
var (
	unsigned       = SwitchOptions{Admit: Admit{InsecureAllowUnsigned: true}}
	unsignedDryRun = SwitchOptions{Admit: Admit{InsecureAllowUnsigned: true}, DryRun: true}
)

// push copies the image of a layout reference to a registry reference.
func push(t *testing.T, from, to string) {
	t.Helper()
	tg, err := layoutreg.Resolve(from)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tg.Ref, tg.Remote...)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.ParseReference(to)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

func cpR(from, to string) ([]byte, error) {
	return exec.Command("cp", "-a", from, to).CombinedOutput()
}

func hashOf(d string) (v1.Hash, error) { return v1.NewHash(d) }

func mustParse(t *testing.T, pemBytes []byte) crypto.PublicKey {
	t.Helper()
	k, err := trust.Parse(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return k[0]
}
