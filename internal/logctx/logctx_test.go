package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/logctx"
)

func TestFrom(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	other := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	tests := []struct {
		name    string
		ctx     context.Context
		want    *slog.Logger // nil: a discarding logger
		wantLog string       // what logging "hello" at Info through From writes
	}{
		{name: "background has none", ctx: context.Background()},
		{name: "nil context", ctx: nil},
		{name: "carried logger", ctx: logctx.With(context.Background(), l), want: l, wantLog: "level=INFO msg=hello k=v\n"},
		{name: "inner With wins", ctx: logctx.With(logctx.With(context.Background(), other), l), want: l, wantLog: "level=INFO msg=hello k=v\n"},
		{name: "With nil removes it", ctx: logctx.With(logctx.With(context.Background(), l), nil)},
		{name: "survives derived contexts", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(logctx.With(context.Background(), l))
			t.Cleanup(cancel)
			return context.WithValue(ctx, struct{ k int }{1}, "x")
		}(), want: l, wantLog: "level=INFO msg=hello k=v\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			got := logctx.From(tc.ctx)
			if got == nil {
				t.Fatal("From returned nil")
			}
			if tc.want != nil && got != tc.want {
				t.Fatalf("From = %p, want the carried logger %p", got, tc.want)
			}
			if tc.want == nil {
				if got.Enabled(context.Background(), slog.LevelError) {
					t.Fatal("the logger of a context without one is enabled at Error, want it to discard")
				}
			}
			got.Info("hello", "k", "v")
			out := buf.String()
			// Drop the time attribute: it is the only varying part.
			if i := strings.Index(out, "level="); i >= 0 {
				out = out[i:]
			}
			if out != tc.wantLog {
				t.Fatalf("logged %q, want %q", out, tc.wantLog)
			}
		})
	}
}
