package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/trust"
)

func newNodeTrustCmd(f *nodeFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Manage the public keys images must be signed by",
		Long: `trust manages the node's trusted keys (ROOT/keys): images are run only when
a cosign signature by one of them verifies. Keys are checked before they are
stored: ECDSA, Ed25519 or RSA public keys in PEM (a cosign .pub file); a
private key is refused and nothing is stored. A running daemon uses a change
at its next pull or switch.`,
		Example: `  undistro node trust add undistro.pub
  undistro node trust list
  undistro node trust remove sha256:1a2b3c4d`,
	}
	cmd.AddCommand(newNodeTrustAddCmd(f), newNodeTrustListCmd(f), newNodeTrustRemoveCmd(f))
	return cmd
}

func newNodeTrustAddCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "add FILE|-",
		Short: "Trust the public key(s) in FILE (- for stdin)",
		Long: `add validates the PEM public key(s) in FILE (or stdin with -) and stores
each in ROOT/keys, atomically, named by its ID (sha256 of its DER form).`,
		Example: `  undistro node trust add undistro.pub
  cat cosign.pub | undistro node trust add -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return addTrustedKey(cmd, f, args[0])
		},
	}
}

// addTrustedKey is `node trust add` (and the deprecated `switch --key`).
func addTrustedKey(cmd *cobra.Command, f *nodeFlags, file string) error {
	cfg, err := f.config()
	if err != nil {
		return err
	}
	var (
		b   []byte
		src = file
	)
	if file == "-" {
		src = "stdin"
		b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("adding trusted key: %w", err)
	}
	keys, err := trust.Add(cfg.Root, src, b)
	if err != nil {
		return err
	}
	for _, k := range keys {
		fmt.Fprintf(cmd.OutOrStdout(), "trusted %s %s\n", k.ID, k.Algorithm)
	}
	return nil
}

func newNodeTrustListCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the trusted keys",
		Long:    `list prints each trusted key's ID, algorithm and file.`,
		Example: `  undistro node trust list --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			keys, err := trust.List(cfg.Root)
			if err != nil {
				return err
			}
			if asJSON {
				if keys == nil {
					keys = []trust.Key{}
				}
				return nodeJSON(cmd.OutOrStdout(), keys)
			}
			if len(keys) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no trusted keys: add one with `undistro node trust add KEY.pub`")
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tALGORITHM\tFILE")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\n", k.ID, k.Algorithm, k.Path)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")
	return cmd
}

func newNodeTrustRemoveCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID|FILE",
		Short: "Stop trusting a key",
		Long: `remove stops trusting the key with this ID (or a unique prefix of at least
8 hex digits), or the key(s) in a PEM public key FILE.`,
		Example: `  undistro node trust remove sha256:1a2b3c4d
  undistro node trust remove old.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			keys, err := trust.Remove(cfg.Root, args[0])
			if err != nil {
				return err
			}
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s %s\n", k.ID, k.Algorithm)
			}
			return nil
		},
	}
}
