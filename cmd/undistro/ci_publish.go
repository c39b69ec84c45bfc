//go:build !undistro_node

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/ci/publish"
)

func newCIPublishCmd() *cobra.Command {
	var (
		cfg     publish.Config
		noMain  bool
		asJSON  bool
		summary string
	)
	cmd := &cobra.Command{
		Use:   "publish --base REV --registry REG/PREFIX --sign-key KEY",
		Short: "Build, push and sign the roles a commit changes, then move ROLE:main",
		Long: `publish plans HEAD against --base (as 'undistro ci plan'), builds the
planned roles, pushes each to REG/PREFIX/ROLE:<commit> (the full commit id),
signs it with --sign-key and attaches its SPDX SBOM and SLSA provenance,
and only then, when every role is built, pushed and signed, moves
REG/PREFIX/ROLE:main to it. A failed build tags nothing main and names the
package and its build log. The work tree must be clean.

A matrix job publishes one role with --role ROLE --no-main; the job after
the matrix moves main with 'undistro ci promote'. --keyless pushes the
images unsigned for the workflow to sign with cosign's keyless (OIDC)
signing before promote: an explicit opt-in, shown in the summary; each
role's SPDX SBOM is then written to --sbom-dir for 'cosign attest'.

Packages are shared through the registry cache (REG/PREFIX/cache/NAME:KEY,
see 'undistro build --cache-registry'): a package built by an earlier run
or another job, signed by --sign-key or a --cache-key, is pulled instead of
built, and every package is pushed there signed with --sign-key.

The summary is appended as Markdown to $GITHUB_STEP_SUMMARY when it is set
and printed as text (or JSON with --json). Credentials come from the Docker
config (docker login).`,
		Example: `  undistro ci publish --base HEAD~1 --registry 127.0.0.1:5000/undistro --sign-key undistro.key
  undistro ci publish --base "$BEFORE" --registry ghcr.io/me/undistro --role web --no-main --keyless --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.MoveMain = !noMain
			if cfg.SignKey != "" {
				cfg.Pass = passwordFunc(cmd, false)
			}
			if !quiet(cmd) {
				cfg.Progress = cmd.ErrOrStderr()
			}
			s, err := publish.Publish(cmd.Context(), cfg)
			if summary == "" {
				summary = os.Getenv("GITHUB_STEP_SUMMARY")
			}
			if summary != "" {
				if werr := s.AppendMarkdown(summary); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			if asJSON {
				if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(s); jerr != nil {
					return errors.Join(err, jerr)
				}
			} else if s.Failed == nil {
				if terr := s.WriteText(cmd.OutOrStdout()); terr != nil {
					return terr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Base, "base", "", "revision the plan compares HEAD with (required), e.g. the push's previous main")
	f.StringVar(&cfg.Registry, "registry", "", "REGISTRY/PREFIX to push ROLE:<commit> and ROLE:main under (required)")
	f.StringVar(&cfg.SignKey, "sign-key", "", "cosign private key signing every image (password: COSIGN_PASSWORD)")
	f.BoolVar(&cfg.Keyless, "keyless", false, "push unsigned for a keyless cosign signature by the workflow (explicit opt-in)")
	f.StringVar(&cfg.SBOMDir, "sbom-dir", "", "with --keyless, write each role's SPDX SBOM here as ROLE.spdx.json for cosign attest (default: --out + \".sbom\")")
	f.StringVar(&cfg.CacheRegistry, "cache-registry", "", "REGISTRY/PREFIX sharing built packages (pull instead of build; push with --sign-key); default: --registry")
	f.BoolVar(&cfg.NoCacheRegistry, "no-cache-registry", false, "neither pull nor push packages through a registry cache")
	f.StringArrayVar(&cfg.CacheKeys, "cache-key", nil, "also trust registry cache entries signed by this cosign public key (repeatable; keyless runs pull only with these)")
	f.StringSliceVar(&cfg.Roles, "role", nil, "publish only these planned roles (a matrix job); default: all planned")
	f.BoolVar(&noMain, "no-main", false, "do not move ROLE:main (the matrix job; 'undistro ci promote' moves it)")
	f.StringVar(&cfg.Repo, "repo", ".", "git work tree to publish (its HEAD)")
	f.StringVarP(&cfg.Out, "out", "o", "out/oci", "OCI image layout directory written on the way")
	f.StringVar(&cfg.Cache, "cache", "", "cache directory (default $UNDISTRO_CACHE or the user cache dir)")
	f.IntVarP(&cfg.Jobs, "jobs", "j", 0, "parallel jobs inside a build ($JOBS; default: CPUs)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringVar(&summary, "summary", "", "append a Markdown summary to this file (default $GITHUB_STEP_SUMMARY)")
	_ = cmd.MarkFlagRequired("base")
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}

func newCIPromoteCmd() *cobra.Command {
	var (
		base, repo, registry string
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "promote --base REV --registry REG/PREFIX",
		Short: "Move ROLE:main to ROLE:<commit> for every role a commit changes",
		Long: `promote plans HEAD against --base and moves REG/PREFIX/ROLE:main to the
image of REG/PREFIX/ROLE:<commit> for every planned role, after checking
that every one of them was published: if one is missing, nothing moves.
It is the last job of the distro workflow, after the per-role matrix.`,
		Example: `  undistro ci promote --base "$BEFORE" --registry ghcr.io/me/undistro`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			moved, err := publish.PromotePlan(cmd.Context(), repo, base, registry)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(moved)
			}
			for _, r := range moved {
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s\n", r.Main, r.Digest)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "revision the plan compares HEAD with (required)")
	cmd.Flags().StringVar(&registry, "registry", "", "REGISTRY/PREFIX the roles were pushed under (required)")
	cmd.Flags().StringVar(&repo, "repo", ".", "git repository holding recipes/ and images/")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the moved tags as JSON")
	_ = cmd.MarkFlagRequired("base")
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}
