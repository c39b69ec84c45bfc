package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/un-distro/undistro/builder/sign"
)

// keyPassword returns the password of a cosign key: $COSIGN_PASSWORD (which
// may be empty), else a prompt when stdin is a terminal.
func keyPassword(cmd *cobra.Command, confirm bool) sign.PassFunc {
	return func() ([]byte, error) {
		if p, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
			return []byte(p), nil
		}
		fd := int(os.Stdin.Fd())
		if !term.IsTerminal(fd) {
			return nil, errors.New("no key password: set COSIGN_PASSWORD (it may be empty) or run on a terminal")
		}
		fmt.Fprint(cmd.ErrOrStderr(), "Enter password for private key: ")
		p, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil || !confirm {
			return p, err
		}
		fmt.Fprint(cmd.ErrOrStderr(), "Enter password for private key again: ")
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return nil, err
		}
		if string(p) != string(p2) {
			return nil, errors.New("passwords do not match")
		}
		return p, nil
	}
}
