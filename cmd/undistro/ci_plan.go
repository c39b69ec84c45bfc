//go:build !undistro_node

package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/plan"
)

func newCIPlanCmd() *cobra.Command {
	var (
		base, head, repo string
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "plan --base REV [--head REV] [--json]",
		Short: "Print the recipes, packages and roles a range of commits changes",
		Long: `plan compares the commits --base and --head (git revisions) and prints the
recipes whose file or path source changed, the role files that changed
(images/ROLE.toml and images/ROLE/...), the packages to rebuild (the
changed recipes and, transitively, every recipe that depends on them) and
the roles to republish: those holding a rebuilt package, and those whose
role file or config directory changed or inherit a role whose did. A change
outside recipes/ and images/ plans something only when a path source builds
from it. Recipes and roles are read as they are at --head.

--json prints the plan as a GitHub Actions matrix, {"include":[{"role":...}]},
with the lists beside it.`,
		Example: `  undistro ci plan --base HEAD~1
  undistro ci plan --base origin/main --head HEAD --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := plan.Compute(cmd.Context(), repo, base, head)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(p)
			}
			return p.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "revision to compare with (required), e.g. the previous commit of main")
	cmd.Flags().StringVar(&head, "head", "HEAD", "revision to plan")
	cmd.Flags().StringVar(&repo, "repo", ".", "git repository holding recipes/ and images/")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as a GitHub Actions matrix (one line of JSON)")
	_ = cmd.MarkFlagRequired("base")
	return cmd
}
