package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/policy"
)

// nodeFlags are the flags every node subcommand shares.
type nodeFlags struct {
	root string
	keys []string
}

// config returns the node config: the root, and a verifier when --key is
// given or the node already holds keys (--key installs its keys into the
// node first, so the node keeps requiring them).
func (f *nodeFlags) config() (node.Config, error) {
	cfg := node.Config{Root: f.root}
	for _, k := range f.keys {
		if _, err := node.InstallKey(f.root, k); err != nil {
			return cfg, err
		}
	}
	if keys := node.Keys(f.root); len(keys) > 0 {
		p, err := policy.Load(keys...)
		if err != nil {
			return cfg, err
		}
		cfg.Verifier = policyVerifier{p}
	}
	return cfg, nil
}

// connect returns the daemon's client when it runs, else the node itself.
func (f *nodeFlags) connect(ctx context.Context) (node.API, func(), error) {
	cfg, err := f.config()
	if err != nil {
		return nil, nil, err
	}
	api, err := node.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	done := func() {
		if c, ok := api.(io.Closer); ok {
			c.Close()
		}
	}
	return api, done, nil
}

// policyVerifier adapts a verification policy to node.Verifier.
type policyVerifier struct{ p *policy.Policy }

func (v policyVerifier) Verify(ctx context.Context, ref, digest string) error {
	_, err := v.p.Verify(ctx, ref, digest)
	return err
}

func defaultNodeRoot() string {
	if r := os.Getenv("UNDISTRO_ROOT"); r != "" {
		return r
	}
	return node.DefaultRoot
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

With --key, images must carry a cosign signature (and SPDX SBOM attestation)
by one of the keys before the node switches to them; the keys are kept in
ROOT/keys so the node keeps requiring them.`,
		Example: `  undistro node switch oci:./out:web --key undistro.pub
  undistro node run &
  undistro node status
  undistro node logs whoami -f
  undistro node rollback`,
	}
	cmd.PersistentFlags().StringVar(&f.root, "root", defaultNodeRoot(), "node root directory ($UNDISTRO_ROOT)")
	cmd.PersistentFlags().StringArrayVar(&f.keys, "key", nil, "cosign public key images must be signed by (repeatable; kept in ROOT/keys)")
	cmd.AddCommand(newNodePullCmd(f), newNodeSwitchCmd(f), newNodeRollbackCmd(f), newNodeStatusCmd(f),
		newNodeLogsCmd(f), newNodeRunCmd(f), newNodeGCCmd(f))
	return cmd
}

func newNodePullCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "pull REF",
		Short: "Fetch an image into the node's store",
		Long: `pull fetches REF, a registry reference or an OCI layout (oci:PATH[:ROLE]),
into the store, verifying every blob against its digest and unpacking its
layers. It does not change what runs; see 'node switch'.`,
		Example: `  undistro node pull oci:./out:web
  undistro node pull 127.0.0.1:5000/undistro/web:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			var progress func(done, total int64)
			if !quiet(cmd) {
				progress = nodeProgress(cmd.ErrOrStderr(), "pulling")
			}
			img, err := api.Pull(cmd.Context(), args[0], progress)
			if progress != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %d bytes\n", img.Digest, args[0], img.Size)
			return nil
		},
	}
}

func newNodeSwitchCmd(f *nodeFlags) *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "switch REF [--dry-run]",
		Short: "Make an image current and restart only the services it changes",
		Long: `switch pulls REF if needed, verifies it with the node's keys, makes it the
current image and applies the difference to the running services: new ones
start, removed ones stop, and only those whose definition, config files or
package changed restart. It then waits for every service to be ready; if
they are not in time, the node rolls back to the previous image and the
command fails with the reason (also shown by 'node status').

--dry-run prints what would change and changes nothing.`,
		Example: `  undistro node switch oci:./out:web --dry-run
  undistro node switch 127.0.0.1:5000/undistro/web:latest --key undistro.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			plan, err := api.Switch(cmd.Context(), args[0], dryRun)
			if err != nil {
				return err
			}
			if asJSON {
				return nodeJSON(cmd.OutOrStdout(), plan)
			}
			plan.Print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change, change nothing")
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
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := api.Rollback(cmd.Context()); err != nil {
				return err
			}
			st, err := api.Status()
			if err != nil {
				return err
			}
			if st.Current != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "rolled back to %s %s\n", st.Current.Digest, st.Current.Role)
			}
			return nil
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
on, and the reason of the last rollback; with a daemon, each service's
sandbox (user, capabilities, namespaces, network, seccomp filter, limits)
and what enforces each limit (cgroup v2 or rlimit).`,
		Example: `  undistro node status
  undistro node status --json | jq .services
  undistro node status --json | jq '.services[] | {name, sandbox}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			st, err := api.Status()
			if err != nil {
				return err
			}
			if asJSON {
				return nodeJSON(cmd.OutOrStdout(), st)
			}
			st.Print(cmd.OutOrStdout())
			return nil
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
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			return api.Logs(cmd.Context(), args[0], follow, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	return cmd
}

func newNodeRunCmd(f *nodeFlags) *cobra.Command {
	var (
		health   time.Duration
		noChroot bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node daemon: supervise the current image's services",
		Long: `run is the node daemon. It starts the current image's services (in
'after' order, chrooted into the image when run as root), restarts them by
their policy, and serves the other node commands on ROOT/undistro.sock.
SIGTERM or SIGINT stops the services and exits.`,
		Example: `  undistro node run --root /var/lib/undistro --key /etc/undistro/undistro.pub`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			cfg.HealthTimeout, cfg.NoChroot = health, noChroot
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
			api, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			removed, err := api.GC(cmd.Context(), keep)
			if err != nil {
				return err
			}
			for _, d := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", d)
			}
			return nil
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
