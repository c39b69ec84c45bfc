//go:build !undistro_node

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/registry"
)

func newServeCmd() *cobra.Command {
	var addr, data string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded OCI registry (blobs and manifests persist on disk)",
		Long: `serve runs a real OCI distribution registry (go-containerregistry's) on
--addr, keeping blobs and a manifest journal under --data so a restart loses
nothing. It is the origin that 'undistro build --push' publishes to, and what
'make demo' uses so nothing else needs to run. Plain HTTP: bind it to
loopback or put TLS in front of it.`,
		Example: `  undistro serve --addr 127.0.0.1:5000 --data /var/lib/undistro-registry
  undistro build web --out out --push 127.0.0.1:5000/undistro`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var logger *log.Logger
			if v, _ := cmd.Flags().GetBool("verbose"); v {
				logger = log.New(cmd.ErrOrStderr(), "registry: ", log.LstdFlags)
			}
			h, err := registry.New(data, logger)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w (is another registry running? pick another --addr)", addr, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving registry on http://%s (data in %s)\n", ln.Addr(), data)
			return serveUntilDone(cmd.Context(), &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:5000", "address to listen on")
	cmd.Flags().StringVar(&data, "data", "undistro-registry", "directory for blobs and manifests")
	return cmd
}

// serveUntilDone serves until ctx is cancelled, then shuts down gracefully.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
