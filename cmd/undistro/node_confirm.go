package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/node"
)

func newNodeConfirmCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "confirm",
		Short: "Keep a switch made with --try",
		Long: `confirm keeps the image a 'node switch --try DURATION' switched to: without
it, the daemon rolls back to the image before when DURATION has passed. It
fails when no switch is on trial, or when its deadline has already passed
(the node then rolls back).`,
		Example: `  undistro node switch 127.0.0.1:5000/undistro/web:latest --try 10m
  undistro node status      # trial: ... rolls back at ... unless confirmed
  undistro node confirm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, api node.API) error {
				t, err := api.Confirm(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "confirmed %s %s\n", t.To, t.Ref)
				return nil
			})
		},
	}
}
