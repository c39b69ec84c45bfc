package logctx

import (
	"context"
	"log/slog"
)

// key is the context key of the logger; its type is unexported so no other
// package can collide with it.
type key struct{}

// discard is what [From] returns for a context without a logger.
var discard = slog.New(slog.DiscardHandler)

// With returns a copy of ctx that carries l. A nil l removes the logger
// carried by ctx: [From] then returns a logger that discards.
func With(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// From returns the logger ctx carries, or one that discards everything if
// it carries none (or ctx is nil).
func From(ctx context.Context) *slog.Logger {
	if ctx == nil {
		return discard
	}
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return discard
}
