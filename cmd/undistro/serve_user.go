//go:build !undistro_node

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/un-distro/undistro/ci/origin"
)

func newServeUserCmd(data *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the registry's users (DATA/htpasswd, bcrypt)",
		Long: `user manages the users of the origin registry, kept in DATA/htpasswd (bcrypt,
mode 0600; the format distribution's htpasswd auth reads). Once a user exists,
push and delete need credentials. A running 'undistro serve' picks up changes
at its next request. Clients log in the usual way ('docker login',
'skopeo login', a DOCKER_CONFIG config.json), which undistro build and node
read.`,
		Example: `  undistro serve user add ci --data /var/lib/undistro-registry
  undistro serve user list --data /var/lib/undistro-registry`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newServeUserAddCmd(data), newServeUserRemoveCmd(data), newServeUserListCmd(data))
	return cmd
}

func newServeUserAddCmd(data *string) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user or set its password",
		Long: `add sets the password of NAME, adding the user if new. The password is read
from standard input (its first line) with --password-stdin or when standard
input is not a terminal; otherwise it is asked for twice on the terminal.`,
		Example: `  undistro serve user add ci --data /var/lib/undistro-registry
  printf '%s\n' "$PASS" | undistro serve user add ci --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readNewPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			added, err := origin.AddUser(cmd.Context(), *data, args[0], pw)
			if err != nil {
				return err
			}
			what := "set the password of"
			if added {
				what = "added"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s user %s in %s\n", what, args[0], origin.HtpasswdPath(*data))
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newServeUserRemoveCmd(data *string) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Short:   "Remove a user",
		Long:    `remove deletes NAME from DATA/htpasswd.`,
		Example: `  undistro serve user remove ci --data /var/lib/undistro-registry`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := origin.RemoveUser(cmd.Context(), *data, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed user %s from %s\n", args[0], origin.HtpasswdPath(*data))
			return nil
		},
	}
}

func newServeUserListCmd(data *string) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the users, one per line",
		Long:    `list prints the user names in DATA/htpasswd, sorted, one per line.`,
		Example: `  undistro serve user list --data /var/lib/undistro-registry`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := origin.Users(cmd.Context(), *data)
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}

// readNewPassword reads a password from standard input (first line) or
// asks for it twice on the terminal.
func readNewPassword(cmd *cobra.Command, fromStdin bool) ([]byte, error) {
	in := cmd.InOrStdin()
	f, isFile := in.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	if fromStdin || !tty {
		line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from standard input: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil, errors.New("no password on standard input: pipe it in (printf '%s\\n' \"$PASS\" | ...) or run on a terminal")
		}
		return line, nil
	}
	pw, err := readTerminalPassword(cmd, f, "Password", true)
	if err != nil {
		return nil, fmt.Errorf("%w: nothing changed", err)
	}
	return pw, nil
}
