package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		level    string
		verbose  bool
		isDaemon bool
		want     slog.Level
		err      string
	}{
		{want: slog.LevelWarn},
		{isDaemon: true, want: slog.LevelInfo},
		{verbose: true, want: slog.LevelDebug},
		{verbose: true, isDaemon: true, want: slog.LevelDebug},
		{level: "error", isDaemon: true, want: slog.LevelError},
		{level: "info", verbose: true, want: slog.LevelInfo},
		{level: "DEBUG", want: slog.LevelDebug},
		{level: "loud", err: `--log-level "loud": want debug, info, warn or error`},
	} {
		got, err := logLevel(tc.level, tc.verbose, tc.isDaemon)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("logLevel(%q, %v, %v) error %v, want %q", tc.level, tc.verbose, tc.isDaemon, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("logLevel(%q, %v, %v) = %v, %v, want %v", tc.level, tc.verbose, tc.isDaemon, got, err, tc.want)
		}
	}
}

// TestDaemonsLogAtInfo: the long-running commands, and only they, are
// marked to log at info by default.
func TestDaemonsLogAtInfo(t *testing.T) {
	root := newRootCmd()
	want := map[string]bool{"undistro node run": true, "undistro serve": true, "undistro proxy": true}
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, c := range all {
		got := c.Annotations[daemonAnnotation] != ""
		if got != want[c.CommandPath()] {
			t.Errorf("%s: daemon %v, want %v", c.CommandPath(), got, want[c.CommandPath()])
		}
		delete(want, c.CommandPath())
	}
	for path := range want {
		t.Errorf("no command %s", path)
	}
	if _, err := undistro(context.Background(), "--log-level", "loud", "node", "--root", t.TempDir(), "status"); err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
		t.Errorf("a bad --log-level: %v", err)
	}
}
