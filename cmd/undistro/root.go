package main

import (
	"fmt"
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
	verbose bool
	quiet   bool
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
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			// Our code takes the logger from the context (logctx.From).
			l := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cmd.SetContext(logctx.With(cmd.Context(), l))
			// Only for dependencies: SetDefault also routes the standard
			// log package into l at Info, so what they print with
			// log.Printf (cosign's "subset of signed timestamps failed to
			// verify", anacrolix's tracker scrape and missinggo) shows
			// only with -v, as our own Info lines do; and what they log
			// through slog's default (go.opentelemetry.io/auto/sdk's
			// limit warnings) gets l's level and format.
			slog.SetDefault(l)
		},
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
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
