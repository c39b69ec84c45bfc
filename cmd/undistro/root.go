package main

import (
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/un-distro/undistro/internal/logctx"
)

// version is set at release time with -ldflags "-X main.version=…".
var version = "dev"

// globalFlags are the flags every subcommand shares.
type globalFlags struct {
	verbose  bool
	quiet    bool
	logLevel string
}

// daemonAnnotation marks a long-running command (node run, serve, proxy):
// it logs at info by default, since its log is what an operator reads
// (journald), where a one-shot command logs warnings only.
const daemonAnnotation = "undistro.daemon"

// daemon is the Annotations value that marks a long-running command.
var daemon = map[string]string{daemonAnnotation: "true"}

// logLevel is the level cmd logs at: --log-level if given, debug with -v,
// otherwise info for a daemon and warn for the rest.
func logLevel(level string, verbose, isDaemon bool) (slog.Level, error) {
	switch {
	case level != "":
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
		}
		return l, nil
	case verbose:
		return slog.LevelDebug, nil
	case isDaemon:
		return slog.LevelInfo, nil
	}
	return slog.LevelWarn, nil
}

// quiet reports whether progress output is off for cmd: --quiet, or stderr
// is not a terminal, or CI is set.
func quiet(cmd *cobra.Command) bool {
	if q, _ := cmd.Flags().GetBool("quiet"); q {
		return true
	}
	if os.Getenv("CI") != "" {
		return true
	}
	f, ok := cmd.ErrOrStderr().(*os.File)
	return !ok || !term.IsTerminal(int(f.Fd()))
}

func newRootCmd() *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "undistro",
		Short: "Build minimal reproducible OS images from recipes and run them on nodes",
		Long: `undistro turns a git repository of package recipes (recipes/*.toml) and
machine roles (images/*.toml) into one minimal, bit-reproducible, signed OCI
image per role, and runs those images on nodes with a tiny runtime that
switches atomically, supervises services and rolls back on failure.`,
		Example: `  undistro recipe lint
  undistro build web --out ./out
  undistro node switch oci:./out:web`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level, err := logLevel(g.logLevel, g.verbose, cmd.Annotations[daemonAnnotation] != "")
			if err != nil {
				return err
			}
			// Our code takes the logger from the context (logctx.From).
			l := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cmd.SetContext(logctx.With(cmd.Context(), l))
			// Only for dependencies: what they log through slog's default
			// (go.opentelemetry.io/auto/sdk's limit warnings) gets l's level
			// and format, and what they print with the standard log package
			// (cosign's "subset of signed timestamps failed to verify",
			// anacrolix's tracker scrape, missinggo) goes to l at debug, so
			// it shows only with -v, even in a daemon logging at info.
			slog.SetDefault(l)
			log.SetOutput(slog.NewLogLogger(l.Handler(), slog.LevelDebug).Writer())
			log.SetFlags(0)
			return nil
		},
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr (--log-level debug)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error (default: info for node run, serve and proxy, warn otherwise)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress output")
	// Each subcommand lives in its own file; add it here (one line each).
	// The node binary (-tags undistro_node, what images carry) has only the
	// runtime's commands: a node never holds the build system.
	root.AddCommand(
		newNodeCmd(),
		newFleetCmd(),
		newProxyCmd(),
		newVerifyCmd(),
	)
	root.AddCommand(builderCommands()...)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath())
	})
	return root
}
