package node

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/un-distro/undistro/runtime/supervise"
)

// TestMain keeps the daemon's logs out of the test output unless -v, and
// becomes the service launcher when a chrooting daemon starts it.
func TestMain(m *testing.M) {
	supervise.MaybeLaunch()
	if root := os.Getenv("NODE_CRASH_ROOT"); root != "" {
		crashChild(root, os.Getenv("NODE_CRASH_REF"))
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
