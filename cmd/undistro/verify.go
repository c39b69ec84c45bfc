package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/policy"
)

func newVerifyCmd() *cobra.Command {
	var (
		keys             []string
		digest           string
		requireSBOM      bool
		insecure, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify REF --key PUB",
		Short: "Verify an image's cosign signature and attestations",
		Long: `verify checks, offline, what a node checks before it runs an image: that
a cosign signature over the image's manifest digest, made for the repository
REF names, verifies with one of the public keys, and that an SPDX SBOM
attestation about that digest verifies too (--require-sbom=false to skip). It then prints what was verified: the
digest, each signature's key and signed digest, and each attestation's
predicate type.

REF is a registry reference or oci:PATH:ROLE. With --digest, REF must still
resolve to that digest (a moved tag is refused); without it, the digest REF
resolves to now is verified. Signatures made by 'cosign sign --key' are
accepted as well as undistro's.`,
		Example: `  undistro verify 127.0.0.1:5000/undistro/web:latest --key undistro.pub
  undistro verify oci:out:web --key undistro.pub --json
  undistro verify REGISTRY/web:latest --key a.pub --key b.pub --digest sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policy.Load(keys...) // validated as 'node trust add' does
			if err != nil {
				return err
			}
			p.RequireSBOM, p.Insecure = requireSBOM, insecure
			res, err := p.Verify(cmd.Context(), args[0], digest)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintf(out, "verified %s\n", res.Image)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "  digest\t%s\n", res.Digest)
			for _, s := range res.Signatures {
				fmt.Fprintf(w, "  signature\tover %s for %s by key %s\n", s.Digest, s.Repository, s.KeyID)
			}
			for _, a := range res.Attestations {
				fmt.Fprintf(w, "  attestation\t%s by key %s\n", a.PredicateType, a.KeyID)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trusted cosign public key file (repeatable)")
	cmd.Flags().StringVar(&digest, "digest", "", "the manifest digest REF must resolve to (default: whatever it resolves to now)")
	cmd.Flags().BoolVar(&requireSBOM, "require-sbom", true, "require a verified SPDX SBOM attestation")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP registry that is not on localhost")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was verified as JSON")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
