package origin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/sirupsen/logrus"

	"github.com/un-distro/undistro/internal/logctx"
)

var (
	bridgeOnce sync.Once
	// bridgeLog is where the engine's logrus entries go: the logger of the
	// ctx the latest server (or gc) was configured with. logrus is one per
	// process and its entries carry no ctx of ours, so this is one too.
	bridgeLog atomic.Pointer[slog.Logger]
)

// configureLogging sends the engine's logrus output to ctx's logger (see
// logctx), at the engine's configured level or the least verbose level
// that logger would print, whichever is higher.
func configureLogging(ctx context.Context, cfg *configuration.Configuration) {
	l := logctx.From(ctx)
	bridgeLog.Store(l)
	bridgeOnce.Do(func() {
		logrus.SetOutput(discard{})
		logrus.AddHook(slogHook{})
	})
	level, err := logrus.ParseLevel(string(cfg.Log.Level))
	if err != nil {
		level = logrus.InfoLevel
	}
	for level > logrus.ErrorLevel && !l.Enabled(ctx, slogLevel(level)) {
		level--
	}
	logrus.SetLevel(level)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// slogHook forwards logrus entries to bridgeLog.
type slogHook struct{}

func (slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (slogHook) Fire(e *logrus.Entry) error {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	l := bridgeLog.Load()
	if l == nil {
		return nil
	}
	lv := slogLevel(e.Level)
	st, hasStatus := e.Data["http.response.status"].(int)
	if lv > slog.LevelInfo && (hasStatus && st < 500 || strings.HasPrefix(e.Message, "error authorizing context")) {
		// The engine logs every 4xx (a HEAD of a missing blob) and every
		// 401 challenge (each client's first request) as a warning or an
		// error: they are the client's doing, not the server's.
		lv = slog.LevelInfo
	}
	if !l.Enabled(ctx, lv) {
		return nil
	}
	attrs := make([]slog.Attr, 0, len(e.Data)+1)
	attrs = append(attrs, slog.String("component", "registry"))
	for k, v := range e.Data {
		attrs = append(attrs, slog.Any(k, v))
	}
	l.LogAttrs(ctx, lv, e.Message, attrs...)
	return nil
}

func slogLevel(l logrus.Level) slog.Level {
	switch {
	case l <= logrus.ErrorLevel:
		return slog.LevelError
	case l == logrus.WarnLevel:
		return slog.LevelWarn
	case l == logrus.InfoLevel:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
