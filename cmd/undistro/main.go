// Command undistro builds minimal, reproducible OCI images from TOML recipes
// and runs them on nodes. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/un-distro/undistro/runtime/supervise"
)

func main() {
	supervise.MaybeLaunch() // the node's service sandbox re-executes this binary
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "undistro:", err)
		os.Exit(1)
	}
}
