package main

import (
	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/proxy"
)

func newProxyCmd() *cobra.Command {
	var listen, upstreams string
	cmd := &cobra.Command{
		Use:         "proxy --listen ADDR --upstreams FILE",
		Annotations: daemon,
		Short:       "Balance HTTP over the upstreams a file lists (an lb role's service)",
		Long: `proxy is a small HTTP load balancer, in the node binary so that an lb role
needs no other package. It reads HOST:PORT lines from FILE (blank lines and
'#' comments ignored), sends each request to the next upstream in turn,
skips one that refuses the connection, and rereads FILE on SIGHUP. A role
renders FILE from a template with 'peers "NAME"' and declares SIGHUP as the
service's reload, so the list follows the fleet (images/lb.toml).`,
		Example: `  undistro proxy --listen 0.0.0.0:80 --upstreams /etc/lb/upstreams`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return proxy.Run(cmd.Context(), listen, upstreams)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "address to serve on")
	cmd.Flags().StringVar(&upstreams, "upstreams", "/etc/lb/upstreams", "file listing the upstreams, HOST:PORT a line")
	return cmd
}
