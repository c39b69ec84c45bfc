//go:build !undistro_node

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/origin"
)

func newServeGCCmd(data, config *string) *cobra.Command {
	var gc origin.GCOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs no manifest references (the engine's garbage collector)",
		Long: `gc runs the registry engine's mark-and-sweep garbage collection on the
origin's storage (--data, or the storage of --config): blobs no manifest
references are deleted, and with --delete-untagged so are manifests no tag
points to. It refuses while 'undistro serve' runs on the same --data: stop
the server first. --dry-run lists what would go and deletes nothing.`,
		Example: `  undistro serve gc --data /var/lib/undistro-registry --dry-run
  undistro serve gc --data /var/lib/undistro-registry --delete-untagged`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts []origin.Option
			if *config != "" {
				opts = append(opts, origin.WithConfigFile(*config))
			}
			gc.Verbose, _ = cmd.Flags().GetBool("verbose")
			rep, err := origin.GarbageCollect(cmd.Context(), *data, gc, opts...)
			if err != nil {
				return err
			}
			if gc.DryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "dry run: %d blobs (%s) in storage, nothing deleted\n", rep.BlobsBefore, humanSize(rep.BytesBefore))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d of %d blobs (%s freed, %s kept)\n",
				rep.BlobsBefore-rep.BlobsAfter, rep.BlobsBefore, humanSize(rep.BytesBefore-rep.BytesAfter), humanSize(rep.BytesAfter))
			return nil
		},
	}
	cmd.Flags().BoolVar(&gc.DryRun, "dry-run", false, "list what would be deleted, delete nothing")
	cmd.Flags().BoolVar(&gc.DeleteUntagged, "delete-untagged", false, "also delete manifests no tag points to")
	return cmd
}
