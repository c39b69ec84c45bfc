package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/fleet"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/render"
)

// fleetRunFlags are `node run`'s fleet flags.
type fleetRunFlags struct {
	addr, key, name, role, timing string
	join, tags                    []string
}

func addFleetRunFlags(cmd *cobra.Command, f *fleetRunFlags) {
	cmd.Flags().StringVar(&f.addr, "fleet", "", "join a fleet: gossip on this IP:PORT (UDP and TCP), the address other nodes reach this one at")
	cmd.Flags().StringSliceVar(&f.join, "join", nil, "fleet members to join through, HOST:PORT,… (none: start a fleet)")
	cmd.Flags().StringVar(&f.key, "fleet-key", "", "the fleet's key file (`undistro fleet keygen -o FILE`); required with --fleet")
	cmd.Flags().StringVar(&f.name, "fleet-name", "", "this node's name in the fleet (default: the name in ROOT/node.toml, else the hostname)")
	cmd.Flags().StringSliceVar(&f.tags, "fleet-tag", nil, "tags this node announces to the fleet (for `fleet query --tag`)")
	cmd.Flags().StringVar(&f.role, "fleet-role", "", "the role to announce while the node runs no image, so it joins the role's rollout")
	cmd.Flags().StringVar(&f.timing, "fleet-timing", string(fleet.TimingLAN), "gossip timers: lan (memberlist's LAN profile) or local (faster, for one host and tests)")
}

// apply adds the fleet agent to the daemon's config (its extension and
// the `peers` template function); nothing without --fleet.
func (f *fleetRunFlags) apply(cfg *node.Config) error {
	if f.addr == "" {
		return nil
	}
	var key []byte
	if f.key != "" {
		k, err := fleet.LoadKey(f.key)
		if err != nil {
			return err
		}
		key = k
	}
	var join []string
	for _, j := range f.join {
		if j = strings.TrimSpace(j); j != "" {
			join = append(join, j)
		}
	}
	name := f.name
	if name == "" { // the node's name in its node.toml, else the hostname
		c, err := loadNodeConfig(*cfg)
		if err != nil {
			return err
		}
		name = c.Name
	}
	a, err := fleet.New(fleet.Config{Name: name, Bind: f.addr, Join: join, Key: key, Tags: f.tags,
		Role: f.role, Timing: fleet.Timing(f.timing), Version: version})
	if err != nil {
		return err
	}
	cfg.Extensions = append(cfg.Extensions, a.Extension())
	cfg.Render = append(cfg.Render, render.WithFuncs(a.Funcs()))
	return nil
}
