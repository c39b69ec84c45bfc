package node

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"testing"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/supervise"
)

// testLog is the logger the tests put in the contexts they pass (see
// logCtx): the daemon's logs go to stderr with -v, nowhere otherwise.
var testLog = slog.New(slog.DiscardHandler)

// logCtx returns ctx carrying testLog.
func logCtx(ctx context.Context) context.Context { return logctx.With(ctx, testLog) }

// TestMain keeps the daemon's logs out of the test output unless -v, and
// becomes the service launcher when a chrooting daemon starts it.
func TestMain(m *testing.M) {
	supervise.MaybeLaunch()
	if root := os.Getenv("NODE_CRASH_ROOT"); root != "" {
		crashChild(root, os.Getenv("NODE_CRASH_REF"))
	}
	flag.Parse()
	if testing.Verbose() {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	os.Exit(m.Run())
}
