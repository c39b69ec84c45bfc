//go:build !undistro_node

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/origin"
	"github.com/un-distro/undistro/runtime/p2p"
)

// serveP2PFlags adds serve's BitTorrent flags and returns the options they
// give.
func serveP2PFlags(cmd *cobra.Command) func() ([]origin.Option, error) {
	addr := cmd.Flags().String("p2p", "off", "BitTorrent address HOST:PORT to seed every stored layer from (the fleet's first peer), with a tracker at /announce on --addr; off: none")
	allow := cmd.Flags().String("p2p-allow", "", "address ranges CIDR,... BitTorrent peers and tracker announces may come from (default loopback, 10/8, 172.16/12, 192.168/16, fc00::/7, link-local)")
	return func() ([]origin.Option, error) {
		if *addr == "off" || *addr == "" {
			return nil, nil
		}
		var prefixes = p2p.DefaultAllow
		if *allow != "" {
			var err error
			if prefixes, err = p2p.ParseAllow(*allow); err != nil {
				return nil, fmt.Errorf("--p2p-allow: %w", err)
			}
		}
		return []origin.Option{origin.WithP2P(*addr, prefixes)}, nil
	}
}
