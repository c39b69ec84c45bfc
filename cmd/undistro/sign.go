//go:build !undistro_node

package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/builder/sign"
)

func newSignCmd() *cobra.Command {
	var (
		key, tlog, sbomFile, provFile string
		insecure, asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "sign REF --key KEY",
		Short: "Sign an image with cosign (and attach its SBOM and provenance)",
		Long: `sign signs the manifest digest of REF with the cosign private key KEY and
stores the signature where every cosign client looks for it: the tag
sha256-<hex>.sig of the image's repository. REF is a registry reference
(REGISTRY/REPO:TAG or @sha256:...) or an OCI layout image oci:PATH:ROLE, in
which case the signature is added to the layout under that name.

--sbom FILE attaches an SPDX JSON SBOM and --provenance FILE a SLSA
provenance v1 statement as cosign attestations (tag sha256-<hex>.att).

Signing is offline: nothing goes to a transparency log, so verify with
'cosign verify --insecure-ignore-tlog'. --tlog URL uploads each signature to
the Rekor instance at URL instead. The key password is COSIGN_PASSWORD or is
asked for on the terminal.`,
		Example: `  undistro sign 127.0.0.1:5000/undistro/web:latest --key undistro.key
  undistro sign oci:out:web --key undistro.key --sbom out/web.spdx.json
  undistro sign ghcr.io/me/web@sha256:... --key undistro.key --tlog https://rekor.sigstore.dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []sign.Option
			if tlog != "" {
				opts = append(opts, sign.WithTlog(tlog))
			}
			if insecure {
				opts = append(opts, sign.WithInsecure())
			}
			ctx, ref := cmd.Context(), args[0]
			s, err := sign.NewSigner(key, passwordFunc(cmd, false), opts...)
			if err != nil {
				return err
			}
			digest, err := s.Sign(ctx, ref)
			if err != nil {
				return err
			}
			attested := []string{}
			for _, a := range []struct{ file, typ string }{{sbomFile, sign.PredicateSPDX}, {provFile, sign.PredicateSLSA1}} {
				if a.file == "" {
					continue
				}
				b, err := os.ReadFile(a.file)
				if err != nil {
					return fmt.Errorf("reading attestation: %w", err)
				}
				if err := s.Attest(ctx, ref, a.typ, b); err != nil {
					return err
				}
				attested = append(attested, a.typ)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"image": ref, "digest": digest, "attestations": attested})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s (%s)\n", ref, digest)
			for _, t := range attested {
				fmt.Fprintf(cmd.OutOrStdout(), "attested %s\n", t)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key file (from 'undistro key generate' or 'cosign generate-key-pair')")
	cmd.Flags().StringVar(&sbomFile, "sbom", "", "SPDX JSON SBOM to attach as an attestation")
	cmd.Flags().StringVar(&provFile, "provenance", "", "SLSA provenance v1 statement to attach as an attestation")
	cmd.Flags().StringVar(&tlog, "tlog", "", "upload to this Rekor transparency log (default: offline)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow a plain-HTTP registry that is not on localhost")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
