package p2p

import (
	"context"
	"log/slog"
)

// quietHandler passes on only warnings and errors: anacrolix logs every
// connection and piece at info level, which a node's log must not carry.
type quietHandler struct{ h slog.Handler }

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.h.Enabled(ctx, l)
}
func (q quietHandler) Handle(ctx context.Context, r slog.Record) error { return q.h.Handle(ctx, r) }
func (q quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{q.h.WithAttrs(as)}
}
func (q quietHandler) WithGroup(name string) slog.Handler { return quietHandler{q.h.WithGroup(name)} }
