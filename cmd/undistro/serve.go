//go:build !undistro_node

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/origin"
)

func newServeCmd() *cobra.Command {
	var (
		data, config, addr, tlsCert, tlsKey string
		anonymousPull, insecure             bool
		p2pOptions                          func() ([]origin.Option, error)
	)
	cmd := &cobra.Command{
		Use:         "serve",
		Annotations: daemon,
		Short:       "Run the origin registry (CNCF distribution, in process)",
		Long: `serve runs undistro's origin registry: the CNCF distribution registry engine
in process, storing under --data (filesystem driver) unless --config, the
engine's own YAML configuration (a distribution config.yml: storage, redis,
notifications, TLS, auth, middleware), says otherwise. It is where
'undistro build --push' publishes and nodes pull from.

Users ('undistro serve user add NAME') are needed for push and delete once one
exists; pulling stays anonymous unless --anonymous-pull=false (undistro images
hold no secrets and nodes verify signatures, so it is writes that need
guarding). On a loopback address with no users the registry is open (a
local try-out). Listening on any other address without users and TLS is
refused unless --insecure.

With --p2p HOST:PORT the origin is also the fleet's first BitTorrent peer:
it seeds every stored layer whose manifest descriptor carries an infohash
(dev.undistro.btih, as 'undistro build' writes it) and answers tracker
announces at /announce on --addr, to peers inside --p2p-allow only.

What the origin sends (blob bytes, range requests included, manifest bytes
and BitTorrent upload) is counted and shown at /metrics (Prometheus text
format) to clients on loopback.

This build includes the ` + strings.Join(origin.StorageDrivers(), ", ") + ` storage drivers, and
the engine's htpasswd and token access controllers for an auth section of
--config (which then replaces the users above).`,
		Example: `  undistro serve --addr 127.0.0.1:5000 --data /var/lib/undistro-registry
  undistro serve user add ci --data /var/lib/undistro-registry --password-stdin <ci.pass
  undistro serve --addr :443 --data /var/lib/undistro-registry --tls-cert reg.crt --tls-key reg.key
  undistro serve --config /etc/undistro/registry.yml --data /var/lib/undistro-registry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []origin.Option{origin.WithAnonymousPull(anonymousPull)}
			if config != "" {
				opts = append(opts, origin.WithConfigFile(config))
			}
			if config == "" || cmd.Flags().Changed("addr") {
				opts = append(opts, origin.WithAddr(addr))
			}
			if tlsCert != "" || tlsKey != "" {
				opts = append(opts, origin.WithTLS(tlsCert, tlsKey))
			}
			if insecure {
				opts = append(opts, origin.WithInsecure())
			}
			p2pOpts, err := p2pOptions()
			if err != nil {
				return err
			}
			srv, err := origin.New(cmd.Context(), data, append(opts, p2pOpts...)...)
			if err != nil {
				return err
			}
			mode := "push and delete need a user"
			if srv.Open() {
				mode = "no users: anyone who reaches it can push"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving registry on %s (data in %s; %s)\n", srv.URL(), data, mode)
			if c := srv.P2P(); c != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "seeding stored layers over BitTorrent on %s; tracker at %s%s\n", c.Addr(), srv.URL(), origin.AnnouncePath)
			}
			return srv.Serve(cmd.Context())
		},
	}
	cmd.PersistentFlags().StringVar(&data, "data", "undistro-registry", "directory for storage, users (htpasswd) and the lock")
	cmd.PersistentFlags().StringVar(&config, "config", "", "distribution registry YAML configuration (storage, redis, TLS, notifications, ...)")
	cmd.Flags().StringVar(&addr, "addr", origin.DefaultAddr, "address to listen on (when given, overrides the http.addr of --config)")
	cmd.Flags().BoolVar(&anonymousPull, "anonymous-pull", true, "let clients without credentials pull when users exist")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow a non-loopback address without users or without TLS")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	p2pOptions = serveP2PFlags(cmd)
	cmd.AddCommand(newServeUserCmd(&data), newServeGCCmd(&data, &config))
	return cmd
}
