package fleet

import (
	"flag"
	"log/slog"
	"os"
	"testing"
)

// testLog is the logger the tests put in the agents' ctx: their logs go
// to stderr with -v, nowhere otherwise.
var testLog = slog.New(slog.DiscardHandler)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Verbose() {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	os.Exit(m.Run())
}
