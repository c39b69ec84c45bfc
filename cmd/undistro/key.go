//go:build !undistro_node

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/un-distro/undistro/builder/sign"
)

func newKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage cosign signing keys",
		Long: `key manages the cosign-compatible key pairs undistro signs images with and
nodes verify them with.`,
		Example: `  undistro key generate --out undistro`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newKeyGenerateCmd())
	return cmd
}

func newKeyGenerateCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a new encrypted cosign key pair (PREFIX.key, PREFIX.pub)",
		Long: `generate writes an ECDSA P-256 key pair in cosign's format: PREFIX.key,
the private key encrypted with a password (mode 0600), and PREFIX.pub, the
public key to put in a node's verification policy or give to
'cosign verify --key'. The password is COSIGN_PASSWORD if set (it may be
empty), otherwise it is asked for twice on the terminal. Existing files are
never overwritten.`,
		Example: `  undistro key generate --out undistro
  COSIGN_PASSWORD=demo undistro key generate --out /tmp/demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sign.GenerateKey(cmd.Context(), out, passwordFunc(cmd, true)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote private key %s.key and public key %s.pub\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "undistro", "path prefix of the key files")
	return cmd
}

// passwordFunc returns the key password: COSIGN_PASSWORD when set (as the
// cosign CLI does), else a prompt on the terminal (twice when confirm).
func passwordFunc(cmd *cobra.Command, confirm bool) sign.PassFunc {
	return func() ([]byte, error) {
		if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
			return []byte(pw), nil
		}
		in, ok := cmd.InOrStdin().(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return nil, errors.New("no password: set COSIGN_PASSWORD or run on a terminal")
		}
		return readTerminalPassword(cmd, in, "Enter password for private key", confirm)
	}
}

// readTerminalPassword asks for a password on the terminal tty, without
// echo, and with confirm a second time; the two must match.
func readTerminalPassword(cmd *cobra.Command, tty *os.File, prompt string, confirm bool) ([]byte, error) {
	fmt.Fprint(cmd.ErrOrStderr(), prompt+": ")
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !confirm {
		return pw, nil
	}
	fmt.Fprint(cmd.ErrOrStderr(), prompt+" again: ")
	again, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the passwords differ")
	}
	return pw, nil
}
