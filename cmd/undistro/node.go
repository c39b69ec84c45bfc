package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/node"
)

// nodeFlags are the flags every node subcommand shares.
type nodeFlags struct {
	root       string
	nodeConfig string
}

// config returns the node config for --root (empty is an error).
func (f *nodeFlags) config() (node.Config, error) {
	if f.root == "" {
		return node.Config{}, node.ErrNoRoot
	}
	return node.Config{Root: f.root, NodeConfig: f.nodeConfig}, nil
}

// call is the one connect-call-print path of the node subcommands: it
// connects to the daemon when one runs, else opens the node itself, calls
// fn and closes the connection.
func (f *nodeFlags) call(cmd *cobra.Command, fn func(ctx context.Context, api node.API) error) error {
	cfg, err := f.config()
	if err != nil {
		return err
	}
	api, err := node.Connect(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer func() {
		if c, ok := api.(io.Closer); ok {
			c.Close()
		}
	}()
	return fn(cmd.Context(), api)
}

// admitFlags adds the flags that loosen the node's trust policy for one
// pull or switch.
func admitFlags(cmd *cobra.Command, a *node.Admit) {
	cmd.Flags().BoolVar(&a.InsecureAllowUnsigned, "insecure-allow-unsigned", false, "run the image without checking its signature (recorded and shown by 'node status')")
	cmd.Flags().StringVar(&a.Role, "role", "", "the role the image must be (default: the role REF names, else the current image's)")
}

func newNodeCmd() *cobra.Command {
	f := &nodeFlags{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run images on this node: pull, switch, rollback, status, logs, run, gc",
		Long: `node is the runtime on each machine. It keeps images in a content-addressed
store under --root, switches between them atomically, supervises the current
image's services and rolls back by itself when a switch leaves them unready.

'undistro node run' is the daemon. While it runs, the other node commands act
through its unix socket (ROOT/undistro.sock); when it does not, they act on
the store directly and the daemon starts the services when it next starts.

Images must carry a cosign signature and an SPDX SBOM attestation by one of
the node's trusted keys ('undistro node trust add'), made for the repository
they are pulled from; their role must be the one asked for, and a switch
refuses an image older than the current one (--allow-downgrade). The only
way to run an unsigned image is --insecure-allow-unsigned, which 'node
status' shows. All of this is checked before any layer is fetched.`,
		Example: `  undistro node trust add undistro.pub
  undistro node switch oci:./out:web
  undistro node run &
  undistro node status
  undistro node logs whoami -f
  undistro node rollback`,
	}
	cmd.PersistentFlags().StringVar(&f.root, "root", node.RootFromEnv(), "node root directory ($UNDISTRO_ROOT)")
	cmd.PersistentFlags().StringVar(&f.nodeConfig, "node-config", "", "the node's config file: name, tags, values for its templates (default ROOT/node.toml; a running daemon uses its own)")
	cmd.AddCommand(newNodePullCmd(f), newNodeSwitchCmd(f), newNodeRollbackCmd(f), newNodeConfirmCmd(f), newNodeStatusCmd(f),
		newNodeLogsCmd(f), newNodeRunCmd(f), newNodeGCCmd(f), newNodeTrustCmd(f),
		newNodeDriftCmd(f), newNodeReconfigureCmd(f),
		newNodeTorrentCmd(f), newNodePeersCmd(f))
	return cmd
}

func newNodePullCmd(f *nodeFlags) *cobra.Command {
	var (
		o      node.PullOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Fetch an image into the node's store",
		Long: `pull fetches REF, a registry reference or an OCI layout (oci:PATH[:ROLE]),
into the store once its signature and role are verified (before any layer is
fetched), verifying every blob against its digest and unpacking its layers.
It does not change what runs; see 'node switch'. Registry credentials come
from docker's config.json ($DOCKER_CONFIG or ~/.docker).`,
		Example: `  undistro node pull oci:./out:web
  undistro node pull 127.0.0.1:5000/undistro/web:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				stop := startPullProgress(cmd, api, &o)
				img, err := api.Pull(ctx, args[0], o)
				stop()
				if err != nil {
					return err
				}
				if asJSON {
					return printPullJSON(cmd, api, img)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s %d bytes\n", img.Digest, args[0], img.Size)
				return nil
			})
		},
	}
	admitFlags(cmd, &o.Admit)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the image and, through a daemon with --p2p, each layer's bytes from peers and from the origin, as JSON")
	return cmd
}

func newNodeSwitchCmd(f *nodeFlags) *cobra.Command {
	var (
		o      node.SwitchOptions
		asJSON bool
		keys   []string
	)
	cmd := &cobra.Command{
		Use:   "switch REF [--dry-run] [--try DURATION]",
		Short: "Make an image current and restart only the services it changes",
		Long: `switch verifies REF with the node's trusted keys (its signature, SBOM, role
and that it is not older than the current image), pulls it if needed, makes
it the current image and applies the difference to the running services: new ones
start, removed ones stop, and only those whose definition, config files or
package changed restart. It then waits for every service to be ready; if
they are not in time, the node rolls back to the previous image and the
command fails with the reason (also shown by 'node status').

A service whose config files alone changed and that declares reload gets its
reload signal or command instead of a restart (it keeps its PID). The new
root is derived from the current one, writing only what the image changes.

The image's files under /etc are defaults: the services see the node's
writable copy, ROOT/etc. The switch merges the new image's /etc into it
(templates rendered from the node's facts and ROOT/node.toml): a file
edited on the node is kept where the image did not change it; where both
changed, the role's merge policy keeps the edit, takes the image's file, or
refuses the switch naming the file (the default). A template that does not
render refuses the switch too.

--dry-run prints what would change (services with the reason for each,
config files and packages added, changed or removed, the merge decision for
each file of ROOT/etc) and changes nothing (it fetches the image, as 'node
pull', to read its /etc). --try DURATION puts the switch on trial: unless
'undistro node confirm' comes within DURATION, the daemon rolls back (the
deadline survives a daemon restart and shows in 'node status'). 'node
rollback' goes back to the previous image without the age check.`,
		Example: `  undistro node switch oci:./out:web --dry-run
  undistro node switch oci:./out:web --dry-run --json | jq .files
  undistro node switch 127.0.0.1:5000/undistro/web:latest --try 10m && undistro node confirm
  undistro node switch 127.0.0.1:5000/undistro/web:latest
  undistro node switch oci:./old:web --allow-downgrade`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.DryRun && len(keys) > 0 {
				return fmt.Errorf("--key stores a trusted key and --dry-run changes nothing: run 'undistro node trust add %s' first, then the dry run", keys[0])
			}
			for _, k := range keys { // deprecated: the same path as 'node trust add'
				if err := addTrustedKey(cmd, f, k); err != nil {
					return err
				}
			}
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				plan, err := api.Switch(ctx, args[0], o)
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), plan)
				}
				plan.Print(cmd.OutOrStdout())
				return nil
			})
		},
	}
	admitFlags(cmd, &o.Admit)
	cmd.Flags().BoolVar(&o.AllowDowngrade, "allow-downgrade", false, "switch to an image built from older commits than the current one")
	cmd.Flags().StringArrayVar(&keys, "key", nil, "add this public key to the node's trusted keys first")
	_ = cmd.Flags().MarkDeprecated("key", "use 'undistro node trust add KEY.pub' once; the node keeps trusting it")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would change, change nothing")
	cmd.Flags().DurationVar(&o.Try, "try", 0, "roll back by itself unless 'undistro node confirm' comes within this duration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func newNodeRollbackCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback",
		Short: "Go back to the previous image",
		Long: `rollback makes the previous image current again (the current one becomes
the previous) and, when the daemon runs, restarts the services that differ.`,
		Example: `  undistro node rollback`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				if err := api.Rollback(ctx); err != nil {
					return err
				}
				st, err := api.Status(ctx)
				if err != nil {
					return err
				}
				if st.Current != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "rolled back to %s %s\n", st.Current.Digest, st.Current.Role)
				}
				return nil
			})
		},
	}
}

func newNodeStatusCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the current and previous images, services and the last rollback",
		Long: `status shows the current and previous images, whether the daemon runs,
each service's state (waiting, starting, ready, running, backoff, failed,
stopped), pid, restarts and last exit, the services the supervisor gave up
on, the reason of the last rollback, and for each image why it was admitted
(the trusted keys that signed it, or UNSIGNED with --insecure-allow-unsigned);
with a daemon, each service's sandbox (user, capabilities, namespaces,
network, seccomp filter, limits) and what enforces each limit (cgroup v2 or
rlimit).`,
		Example: `  undistro node status
  undistro node status --json | jq .services
  undistro node status --json | jq '.services[] | {name, sandbox}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				st, err := api.Status(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), st)
				}
				st.Print(cmd.OutOrStdout())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newNodeLogsCmd(f *nodeFlags) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs SERVICE [-f]",
		Short: "Print a service's log",
		Long: `logs prints SERVICE's output (ROOT/logs/SERVICE.log, rotated at 1 MiB).
With -f it keeps printing what the service writes, across rotations, until
interrupted.`,
		Example: `  undistro node logs whoami
  undistro node logs whoami -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				return api.Logs(ctx, args[0], follow, cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	return cmd
}

func newNodeRunCmd(f *nodeFlags) *cobra.Command {
	var (
		health     time.Duration
		noChroot   bool
		fleetFlags = &fleetRunFlags{}
		bt         func(*facts.Config) (node.BitTorrent, error)
	)
	cmd := &cobra.Command{
		Use:         "run",
		Annotations: daemon,
		Short:       "Run the node daemon: supervise the current image's services",
		Long: `run is the node daemon. It starts the current image's services (in
'after' order, chrooted into the image when run as root), restarts them by
their policy, and serves the other node commands on ROOT/undistro.sock.
It reads the trusted keys (ROOT/keys) at every pull and switch, so 'node
trust add' and 'node trust remove' apply without a restart. Services see
the node's writable /etc (ROOT/etc), read-only; the daemon records each
local edit of a managed file there as the kernel reports it ('node
drift'), and re-renders the image's templates when ROOT/node.toml (or
--node-config) or the node's addresses change. SIGTERM or SIGINT
stops the services and exits.

It serves the manifests, configs, signatures and attestations of the images
it verified, read-only, to peers inside --p2p-allow, on the --p2p address's
port + 1; a pull or switch of REG/REPO@sha256:... whose registry cannot serve
it gets them from the --peers instead, verified as usual (a tag still needs
the registry).`,
		Example: `  undistro node run --root /var/lib/undistro
  undistro node run --fleet 10.0.0.5:7946 --join 10.0.0.2:7946 --fleet-key /etc/undistro/fleet.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			cfg.HealthTimeout, cfg.NoChroot = health, noChroot
			if err := fleetFlags.apply(&cfg); err != nil {
				return err
			}
			nc, err := loadNodeConfig(cfg)
			if err != nil {
				return err
			}
			if cfg.BitTorrent, err = bt(nc); err != nil {
				return err
			}
			n, err := node.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer n.Close()
			return n.Run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&health, "health-timeout", node.DefaultHealthTimeout, "how long a switched-to image's services have to be ready before rolling back")
	cmd.Flags().BoolVar(&noChroot, "no-chroot", false, "run services on host paths under the image root instead of chrooted into it (tests)")
	addFleetRunFlags(cmd, fleetFlags)
	bt = btFlags(cmd)
	return cmd
}

func newNodeGCCmd(f *nodeFlags) *cobra.Command {
	var keep int
	cmd := &cobra.Command{
		Use:   "gc [--keep N]",
		Short: "Remove images other than the current, the previous and the N newest",
		Long: `gc removes from the store every image other than the current, the previous
and the N newest, and the blobs and layers only they used.`,
		Example: `  undistro node gc
  undistro node gc --keep 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				removed, err := api.GC(ctx, keep)
				if err != nil {
					return err
				}
				for _, d := range removed {
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", d)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&keep, "keep", node.DefaultKeep, "newest images to keep besides the current and previous")
	return cmd
}

func nodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressBar returns a progress callback that redraws one line on w.
func nodeProgress(w io.Writer, what string) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(last) < 100*time.Millisecond && done < total {
			return
		}
		last = now
		if total > 0 {
			fmt.Fprintf(w, "\r%s %.1f/%.1f MB (%d%%)", what, float64(done)/1e6, float64(total)/1e6, done*100/total)
			return
		}
		fmt.Fprintf(w, "\r%s %.1f MB", what, float64(done)/1e6)
	}
}
