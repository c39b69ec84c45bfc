//go:build !undistro_node

package main

import "github.com/spf13/cobra"

// builderCommands are the commands of the build side (not in node binaries).
func builderCommands() []*cobra.Command {
	return []*cobra.Command{
		newBuildCmd(),
		newImageCmd(),
		newRecipeCmd(),
		newServeCmd(),
		newKeyCmd(),
		newSignCmd(),
		newCICmd(),
	}
}
