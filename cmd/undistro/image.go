//go:build !undistro_node

package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/builder/image"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Look at built images",
		Long:  `image shows what an undistro image holds, from an OCI layout or a registry.`,
		Example: `  undistro image inspect oci:out/oci:web
  undistro image inspect 127.0.0.1:5000/undistro/web:latest --json`,
	}
	var asJSON bool
	inspect := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image's packages, layers, services, files and sizes",
		Long: `inspect reads an image — "oci:PATH[:ROLE]" for an OCI image layout, or a
registry reference — and prints its packages (name, version, source), each
layer with its size and owning package, the services it runs and what each
asks for beyond the default sandbox (capabilities, network, setuid,
seccomp additions, limits, writable paths), its config files and
accounts, and its total size.`,
		Example: `  undistro image inspect oci:out/oci:web
  undistro image inspect 127.0.0.1:5000/undistro/web@sha256:… --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := image.Load(args[0])
			if err != nil {
				return err
			}
			rep, err := image.Inspect(img)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	inspect.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(inspect)
	return cmd
}
