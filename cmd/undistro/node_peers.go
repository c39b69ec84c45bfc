package main

import (
	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/node"
)

// peerFlags adds node run's peer flags that are not there yet (the
// BitTorrent engine's command may define the same ones) and returns how to
// read them into the node's peer configuration.
func peerFlags(cmd *cobra.Command) func() (node.PeerConfig, error) {
	fl := cmd.Flags()
	if fl.Lookup("p2p") == nil {
		fl.String("p2p", "0.0.0.0:6881", "BitTorrent address (HOST:PORT, or off); the read-only OCI endpoint for peers listens on its port + 1")
	}
	if fl.Lookup("peers") == nil {
		fl.StringSlice("peers", nil, "bootstrap peers' BitTorrent addresses (HOST:PORT,...); their OCI endpoints are at port + 1")
	}
	if fl.Lookup("p2p-allow") == nil {
		fl.String("p2p-allow", "", "addresses (CIDR,...) peers may connect from (default loopback, 10/8, 172.16/12, 192.168/16, fc00::/7, link-local)")
	}
	return func() (node.PeerConfig, error) {
		peers, err := fl.GetStringSlice("peers")
		if err != nil {
			return node.PeerConfig{}, err
		}
		return node.NewPeerConfig(fl.Lookup("p2p").Value.String(), peers, fl.Lookup("p2p-allow").Value.String())
	}
}
