//go:build !undistro_node

package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/builder/graph"
	"github.com/un-distro/undistro/builder/recipe/scaffold"
)

func newRecipeCmd() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "recipe",
		Short: "Check, explore and create package recipes",
		Long: `recipe works on the package recipes in recipes/*.toml and the roles in
images/*.toml: lint them, show what a package depends on or what depends on
it, and start a new recipe from a source URL.`,
		Example: `  undistro recipe lint
  undistro recipe deps web --tree
  undistro recipe new zstd --url https://example.org/zstd-1.5.6.tar.gz`,
	}
	cmd.PersistentFlags().StringVar(&repo, "repo", ".", "repository holding recipes/ and images/")
	dirs := func() (string, string) { return filepath.Join(repo, "recipes"), filepath.Join(repo, "images") }

	lint := &cobra.Command{
		Use:   "lint",
		Short: "Validate every recipe and role; list all problems as file:line:col",
		Long: `lint loads every recipe and role strictly (unknown keys, wrong types, missing
checksums, dependency cycles, unknown dependencies, unknown services) and
prints every problem as file:line:col: message. It exits 1 when any is found.`,
		Example: `  undistro recipe lint
  undistro recipe lint --repo ../distro`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, i := dirs()
			if err := graph.Lint(r, i); err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), err)
				return fmt.Errorf("lint found problems")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}

	var tree bool
	deps := &cobra.Command{
		Use:   "deps NAME",
		Short: "List the dependencies of a package (transitively)",
		Long:  `deps prints the build and run dependencies of a package in build order, or as a tree with --tree.`,
		Example: `  undistro recipe deps hello
  undistro recipe deps whoami --tree`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _ := dirs()
			g, err := graph.Load(r, args[0])
			if err != nil {
				return err
			}
			if tree {
				fmt.Fprint(cmd.OutOrStdout(), g.Tree(args[0]))
				return nil
			}
			for _, n := range g.Order() {
				if n != args[0] {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
			}
			for _, t := range g.HostTools(args[0]) {
				fmt.Fprintln(cmd.OutOrStdout(), "host:"+t)
			}
			return nil
		},
	}
	deps.Flags().BoolVar(&tree, "tree", false, "print as a tree")

	uses := &cobra.Command{
		Use:     "uses NAME",
		Short:   "List the packages that depend on a package (transitively)",
		Long:    `uses prints every recipe that depends on NAME, directly or not: what a change to NAME rebuilds.`,
		Example: `  undistro recipe uses busybox`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _ := dirs()
			users, err := graph.Users(r, args[0])
			if err != nil {
				return err
			}
			for _, n := range users {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}

	var url string
	newc := &cobra.Command{
		Use:   "new NAME --url URL",
		Short: "Start a recipe from a source archive URL",
		Long: `new downloads URL (a tar, plain or compressed with gzip, bzip2, xz or
zstd, or a zip), computes its sha256, guesses the build system (autotools,
cmake, meson, go, make) and writes recipes/NAME.toml for you to finish. The
archive is read under the same rules as any source; a hostile one is
refused. It never overwrites an existing recipe.`,
		Example: `  undistro recipe new jq --url https://example.org/jq-1.7.1.tar.gz`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				return fmt.Errorf("--url is required: the source archive to build from")
			}
			r, _ := dirs()
			path, err := scaffold.New(cmd.Context(), args[0], url, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "wrote", path)
			return nil
		},
	}
	newc.Flags().StringVar(&url, "url", "", "source archive URL (http, https or file)")
	cmd.AddCommand(lint, deps, uses, newc)
	return cmd
}
