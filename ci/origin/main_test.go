package origin

import (
	"context"
	"log/slog"
	"os"

	"github.com/un-distro/undistro/internal/logctx"
)

// testLog is the logger the tests put in the contexts they pass (see
// logCtx): it keeps the engine's request log (info) out of test output;
// warnings and errors still show.
var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// logCtx returns ctx carrying testLog.
func logCtx(ctx context.Context) context.Context { return logctx.With(ctx, testLog) }
