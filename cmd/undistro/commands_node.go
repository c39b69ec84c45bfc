//go:build undistro_node

package main

import "github.com/spf13/cobra"

// builderCommands is empty in node binaries: they carry only the runtime.
func builderCommands() []*cobra.Command { return nil }
