package main

import (
	"fmt"

	"context"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/drift"
	"github.com/un-distro/undistro/runtime/node"
)

func newNodeDriftCmd(f *nodeFlags) *cobra.Command {
	var asJSON, patch bool
	cmd := &cobra.Command{
		Use:   "drift [--json | --patch]",
		Short: "List config files edited on this node, with their diffs or as a patch",
		Long: `drift lists the managed files of the node's writable /etc (ROOT/etc) that
were edited on the node and still differ from what the image installed,
each with its diff and the edit's record: when, the inotify event that
recorded it and, where fanotify is allowed, the process that wrote it.
'node run' records edits as the kernel reports them; it never scans, so an
edit made while no daemon runs is not listed (a switch still merges it).

--patch prints the edits as a git patch against the recipes repository
(each role file at its source, images/ROLE/NAME): review it and
'git apply' it in a checkout, so a change made on a machine flows back to
the fleet's source of truth. Files a patch cannot carry (not role files,
templates, binary) are named on stderr.

A role with drift = "revert" restores each edited file at once instead;
such edits appear in the daemon's log, not here.`,
		Example: `  undistro node drift
  undistro node drift --json | jq '.files[].path'
  undistro node drift --patch > node-edits.patch && git -C recipes apply ../node-edits.patch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && patch {
				return fmt.Errorf("--json and --patch: choose one")
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			rep, err := node.Drift(cfg)
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				return nodeJSON(cmd.OutOrStdout(), rep)
			case patch:
				skipped, err := drift.WritePatch(cmd.OutOrStdout(), rep.Files)
				for _, s := range skipped {
					fmt.Fprintf(cmd.ErrOrStderr(), "not in the patch: %s: %s\n", s.Path, s.Reason)
				}
				return err
			}
			if len(rep.Files) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no recorded edits of managed config files (the daemon, node run, records them as they happen)")
				return nil
			}
			for _, d := range rep.Files {
				fmt.Fprintf(cmd.OutOrStdout(), "%s", d.Path)
				if r := d.Record; r != nil {
					fmt.Fprintf(cmd.OutOrStdout(), " edited %s (%s, event %d)", r.Time.Format("2006-01-02T15:04:05Z"), r.Event, r.Seq)
					if r.PID != 0 {
						fmt.Fprintf(cmd.OutOrStdout(), " by pid %d %s", r.PID, r.Process)
					}
				}
				fmt.Fprintln(cmd.OutOrStdout())
				if d.Binary {
					fmt.Fprintln(cmd.OutOrStdout(), "  binary content differs")
					continue
				}
				fmt.Fprint(cmd.OutOrStdout(), d.Diff)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the drifted files as JSON")
	cmd.Flags().BoolVar(&patch, "patch", false, "print a git patch against the recipes repository (images/ROLE/...)")
	return cmd
}

func newNodeReconfigureCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reconfigure [--json]",
		Short: "Re-render the current image's templates from the node's facts and values",
		Long: `reconfigure renders the current image's template files again from the
node's facts (hostname, addresses, CPU count, memory, kernel) and its config
file (ROOT/node.toml or --node-config: name, ordered tags, per-tag values),
merges them into ROOT/etc and, when the daemon runs, restarts (or reloads)
only the services that read a file that changed. A template that does not
render changes nothing and fails naming its file:line and the missing key.
The daemon also does this when it starts.`,
		Example: `  undistro node reconfigure
  undistro node reconfigure --json | jq .restart`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				plan, err := api.Reconfigure(ctx)
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}
