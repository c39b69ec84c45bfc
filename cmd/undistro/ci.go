//go:build !undistro_node

package main

import (
	"github.com/spf13/cobra"
)

func newCICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "The distro pipeline: plan a commit, publish its images, move main",
		Long: `ci runs what continuous integration runs on every commit to main: plan
which packages and roles the commit changes, build and publish those roles
as signed images tagged with the commit, and move each role's main tag once
every role is published. 'make distro' runs the same pipeline locally.`,
		Example: `  undistro ci plan --base HEAD~1
  undistro ci publish --base HEAD~1 --registry 127.0.0.1:5000/undistro --sign-key undistro.key`,
	}
	cmd.AddCommand(newCIPlanCmd(), newCIPublishCmd(), newCIPromoteCmd())
	return cmd
}
