package node

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the daemon's logs out of the test output unless -v.
func TestMain(m *testing.M) {
	if root := os.Getenv("NODE_CRASH_ROOT"); root != "" {
		crashChild(root, os.Getenv("NODE_CRASH_REF"))
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
