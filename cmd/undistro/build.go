//go:build !undistro_node

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/builder"
)

func newBuildCmd() *cobra.Command {
	var (
		out, push, cacheDir, rootfs, repo, signKey string
		cacheRegistry                              string
		cacheKeys                                  []string
		jobs                                       int
		asJSON                                     bool
	)
	cmd := &cobra.Command{
		Use:   "build ROLE...",
		Short: "Build one reproducible OCI image per role",
		Long: `build resolves the packages of each role (images/ROLE.toml), builds the
ones whose cache key is not in the cache in a bubblewrap sandbox, and writes
an OCI image layout at --out holding one image per role, each annotated
org.opencontainers.image.ref.name=ROLE. The same commit gives the same
digests, whatever the time, directory or cache state.

With --cache-registry REGISTRY/PREFIX, a package missing from the local
cache is first looked up at PREFIX/cache/NAME:<hex of its build key>; an
entry signed by a --cache-key (or by --sign-key) whose blobs match their
digests is used instead of building, and listed under "cached". Anything
that does not verify is ignored with a warning and the package is built.
With --sign-key too, every package of the build that was not pulled is
pushed there and signed with that key, for the next builder.

SOURCE_DATE_EPOCH, when set, dates every file; otherwise each package is
dated by the last git commit of its recipe.`,
		Example: `  undistro build base web --out out/oci
  undistro build web --out out/oci --push 127.0.0.1:5000/undistro --json
  undistro build web --out out/oci --rootfs out/rootfs
  undistro build web --cache-registry ghcr.io/me/undistro --cache-key ci.pub
  undistro build web --cache-registry 127.0.0.1:5000/undistro --sign-key ci.key`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, roles []string) error {
			opts := []builder.Option{builder.WithOutput(out), builder.WithRepo(repo)}
			if cacheDir != "" {
				opts = append(opts, builder.WithCache(cacheDir))
			}
			if push != "" {
				opts = append(opts, builder.WithPush(push))
			}
			if rootfs != "" {
				opts = append(opts, builder.WithRootfs(rootfs))
			}
			if jobs > 0 {
				opts = append(opts, builder.WithJobs(jobs))
			}
			if !quiet(cmd) {
				opts = append(opts, builder.WithProgress(cmd.ErrOrStderr()))
			}
			if signKey != "" {
				opts = append(opts, builder.WithSigning(signKey, passwordFunc(cmd, false)))
			}
			if cacheRegistry != "" {
				opts = append(opts, builder.WithCacheRegistry(cacheRegistry))
			}
			if len(cacheKeys) > 0 {
				opts = append(opts, builder.WithCacheKeyFiles(cacheKeys...))
			}
			results, err := builder.Build(cmd.Context(), roles, opts...)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tDIGEST\tSIZE\tLAYERS\tBUILT\tPULLED")
			for _, r := range results {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", r.Role, r.Digest, humanSize(r.Size), len(r.Layers), len(r.Built), len(r.Pulled))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "out/oci", "OCI image layout directory to write")
	cmd.Flags().StringVar(&push, "push", "", "also push each role to REGISTRY/PREFIX/ROLE:latest")
	cmd.Flags().StringVar(&cacheDir, "cache", "", "cache directory (default $UNDISTRO_CACHE or the user cache dir)")
	cmd.Flags().StringVar(&rootfs, "rootfs", "", "also export each role's root filesystem to DIR/ROLE")
	cmd.Flags().StringVar(&repo, "repo", ".", "repository holding recipes/ and images/")
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign pushed images (and attach SBOM and provenance) with this cosign key")
	cmd.Flags().StringVar(&cacheRegistry, "cache-registry", "", "share built packages through REGISTRY/PREFIX/cache/NAME:KEY: pull verified ones instead of building, and push what is built when --sign-key is given")
	cmd.Flags().StringArrayVar(&cacheKeys, "cache-key", nil, "trust registry cache entries signed by this cosign public key (repeatable)")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "parallel jobs inside a build ($JOBS; default: CPUs)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
