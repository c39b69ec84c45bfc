package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/runtime/fleet"
	"github.com/un-distro/undistro/runtime/node"
)

// fleetCall connects to the fleet agent of the daemon at --root and calls fn.
func (f *nodeFlags) fleetCall(cmd *cobra.Command, fn func(ctx context.Context, c *fleet.Client) error) error {
	cfg, err := f.config()
	if err != nil {
		return err
	}
	sock, err := cfg.SocketPath()
	if err != nil {
		return err
	}
	c := fleet.Dial(sock)
	defer c.Close()
	return fn(cmd.Context(), c)
}

func newFleetCmd() *cobra.Command {
	f := &nodeFlags{}
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Ask and steer the fleet of nodes through the local node daemon",
		Long: `fleet speaks to the fleet the local node daemon is a member of ('undistro
node run --fleet IP:PORT --join HOST:PORT --fleet-key FILE'). There is no
master: every node gossips its role, image, switch state, health and tags
(serf over memberlist, encrypted with the fleet's key), and every node can
list the members, ask them questions and publish a rollout that the role's
nodes then carry out among themselves.`,
		Example: `  undistro fleet keygen -o /etc/undistro/fleet.key
  undistro fleet members --role web
  undistro fleet query --role web status
  undistro fleet rollout web registry:5000/undistro/web@sha256:… --max-unavailable 2 --canary 1
  undistro fleet rollout status web`,
	}
	cmd.PersistentFlags().StringVar(&f.root, "root", node.RootFromEnv(), "node root directory ($UNDISTRO_ROOT): its daemon is asked")
	cmd.AddCommand(newFleetKeygenCmd(), newFleetMembersCmd(f), newFleetQueryCmd(f), newFleetRolloutCmd(f), newFleetPeersCmd(f), newFleetTrafficCmd(f), newFleetForgetCmd(f))
	return cmd
}

func newFleetKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen -o FILE",
		Short: "Write a new fleet key",
		Long: `keygen writes a new fleet key to FILE (mode 0600): base64 of 32 random bytes,
the AES-256 key serf's keyring takes. Every node of the fleet needs a copy
(--fleet-key); a node without it can neither join nor read the gossip. It
refuses to replace an existing file.`,
		Example: `  undistro fleet keygen -o /etc/undistro/fleet.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("no output file: pass -o FILE")
			}
			if err := fleet.GenerateKey(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote fleet key %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the key")
	return cmd
}

func newFleetMembersCmd(f *nodeFlags) *cobra.Command {
	var (
		role   string
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "members [--role R] [--json]",
		Short: "List the fleet's members as this node sees them",
		Long: `members lists the fleet as the local node sees it: each member's name, gossip
address, role, image digest, switch state (steady, switching, rolledback or
refused, with the digest it refused), service health and tags. A member that
leaves is gone at once; one that dies, after the failure detection timeout
(a few seconds). --all also lists members that left or failed and are not
reaped yet.`,
		Example: `  undistro fleet members
  undistro fleet members --role web --json | jq -r '.[].addr'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				ms, err := c.Members(ctx, all)
				if err != nil {
					return err
				}
				out := []fleet.Member{}
				for _, m := range ms {
					if role == "" || m.Role == role {
						out = append(out, m)
					}
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), out)
				}
				printMembers(cmd.OutOrStdout(), out, all)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "only members of this role")
	cmd.Flags().BoolVar(&all, "all", false, "also members that left or failed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func printMembers(w io.Writer, ms []fleet.Member, status bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "NAME\tADDR\tROLE\tIMAGE\tSWITCH\tHEALTH\tTAGS"
	if status {
		head += "\tSTATUS"
	}
	fmt.Fprintln(tw, head)
	for _, m := range ms {
		sw := string(m.Switch)
		if m.Refused != "" {
			sw += " " + shortDigest(m.Refused)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", m.Name, m.Addr, m.Role, shortDigest(m.Image), sw, m.Health, strings.Join(m.Tags, ","))
		if status {
			line += "\t" + m.Status
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func newFleetQueryCmd(f *nodeFlags) *cobra.Command {
	var (
		q      fleet.Question
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "query [--role R] [--tag T] NAME",
		Short: "Ask the matching members a question and print their answers",
		Long: `query asks every member matching --role and --tag (all members without
them) the question NAME over the gossip and prints the answers that arrive
until every member this node expected (alive and matching) has answered, or
the timeout, then how many of the expected did not answer. Every node
answers:

  status    its role, image, switch state, health, services and where it is
            in its role's rollout
  version   the undistro version it runs and its image
  drift     how many of its config files under /etc were edited on the node,
            and the first paths ('undistro node drift' there shows diffs)

A question travels by gossip; members that have not answered after a third
of the timeout are asked again by name (twice at most), and each answer is
relayed through two other members as well, so "did not answer" means the
member could not, not that a packet was lost. --timeout defaults to serf's,
which grows with the log of the fleet's size; it bounds only a query someone
misses.`,
		Example: `  undistro fleet query status
  undistro fleet query --role web --tag eu version --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q.Name = args[0]
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				ans, err := c.Query(ctx, q)
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), ans)
				}
				w := cmd.OutOrStdout()
				for _, a := range ans.Answers {
					if a.Error != "" {
						fmt.Fprintf(w, "%s: error: %s\n", a.Node, a.Error)
						continue
					}
					fmt.Fprintf(w, "%s: %s\n", a.Node, a.Answer)
				}
				fmt.Fprintf(w, "%d answered, %d did not within %s", len(ans.Answers), len(ans.Missing), ans.Timeout)
				if len(ans.Missing) > 0 {
					fmt.Fprintf(w, ": %s", strings.Join(ans.Missing, " "))
				}
				fmt.Fprintln(w)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&q.Role, "role", "", "ask only members of this role")
	cmd.Flags().StringVar(&q.Tag, "tag", "", "ask only members with this tag")
	cmd.Flags().DurationVar(&q.Timeout, "timeout", 0, "how long to wait for answers (default: serf's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFleetRolloutCmd(f *nodeFlags) *cobra.Command {
	var (
		t      fleet.Target
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rollout ROLE REF [--max-unavailable N] [--canary N]",
		Short: "Publish a rollout of REF to ROLE's nodes and return",
		Long: `rollout verifies REF with the local node's trust policy (signature, SBOM,
role ROLE), pins its digest and publishes it to the fleet as a user event,
then returns: nothing drives the rollout afterwards. Each node of ROLE
decides by itself from the gossip when its turn comes: the role's nodes in
an order every node computes alike, the first --canary of them first, then
never more than --max-unavailable switching at once. Each switches exactly
as 'node switch' would (its own trust policy verifies the image and the
digest must match); a node whose health gate fails rolls back and
announces it, and then no other node switches to that digest. Nodes that
join later converge on the role's newest target.

'fleet rollout status ROLE' shows where the rollout is.`,
		Example: `  undistro fleet rollout web 127.0.0.1:5000/undistro/web:latest --max-unavailable 2 --canary 1
  undistro fleet rollout status web`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t.Role, t.Ref = args[0], args[1]
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				pub, err := c.Publish(ctx, t)
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), pub)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "published rollout of %s to %s (%s), max unavailable %d, canary %d\nfollow it with: undistro fleet rollout status %s\n",
					pub.Role, pub.Digest, pub.Ref, pub.MaxUnavailable, pub.Canary, pub.Role)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&t.MaxUnavailable, "max-unavailable", 1, "how many of the role's nodes may switch at once")
	cmd.Flags().IntVar(&t.Canary, "canary", 1, "how many nodes switch and become ready before the others start")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the published target as JSON")
	cmd.AddCommand(newFleetRolloutStatusCmd(f))
	return cmd
}

func newFleetRolloutStatusCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ROLE [--json]",
		Short: "Show who of ROLE runs which digest in its rollout",
		Long: `status shows ROLE's newest rollout target as this node knows it, how many
of the role's members run it (settled and healthy), which member halted it
by rolling back, which members failed (a failed member counts as
unavailable: it may be a node in the middle of its switch that this one
cannot hear), and each member's image, switch state and health.`,
		Example: `  undistro fleet rollout status web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				rs, err := c.Rollout(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), rs)
				}
				w := cmd.OutOrStdout()
				if rs.Target == nil {
					fmt.Fprintf(w, "role %s: no rollout known\n", rs.Role)
				} else {
					fmt.Fprintf(w, "role %s: target %s (%s), %d/%d on target", rs.Role, rs.Target.Digest, rs.Target.Ref, rs.OnTarget, len(rs.Members))
					if rs.Halted != "" {
						fmt.Fprintf(w, ", halted: %s rolled back from it", rs.Halted)
					}
					fmt.Fprintln(w)
				}
				if len(rs.Failed) > 0 {
					fmt.Fprintf(w, "failed, counted as unavailable: %s ('undistro fleet forget NAME' drops a node gone for good)\n", strings.Join(rs.Failed, ", "))
				}
				printMembers(w, rs.Members, len(rs.Failed) > 0)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFleetForgetCmd(f *nodeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "forget NAME",
		Short: "Drop a member that failed and will not come back",
		Long: `forget drops NAME, a member the fleet sees as failed, at once (serf's
force-leave), instead of waiting for the reaper (24 hours). A failed member
counts as unavailable in its role's rollouts, since it may be a live node in
the middle of its switch that the others cannot hear; a node that died for
good therefore holds the members after it in a rollout until it is
forgotten. A member seen alive is refused: stop its daemon and it leaves by
itself. If the node comes back later, it simply joins again.`,
		Example: `  undistro fleet members --all
  undistro fleet forget web-07`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				if err := c.Forget(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "forgot %s: the fleet drops it as it hears the leave\n", args[0])
				return nil
			})
		},
	}
}

func newFleetTrafficCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "traffic [--json]",
		Short: "Show the bytes this node's gossip sent and received",
		Long: `traffic shows how many bytes the local node's gossip (UDP and TCP, after
encryption) has sent and received since its daemon started, and the
averages per second: the fleet's cost on this node.`,
		Example: `  undistro fleet traffic`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				tr, err := c.Traffic(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(tr)
				}
				secs := max(tr.Seconds, 1e-9)
				fmt.Fprintf(cmd.OutOrStdout(), "sent %d bytes (%.0f B/s), received %d bytes (%.0f B/s) in %s\n",
					tr.Sent, float64(tr.Sent)/secs, tr.Received, float64(tr.Received)/secs, time.Duration(tr.Seconds*float64(time.Second)).Round(time.Second))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFleetPeersCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "peers NAME [--json]",
		Short: "List the providers of one of this node's relations",
		Long: `peers lists what the template function 'peers "NAME"' gives this node's
templates: the live, healthy members of the role its [requires.NAME] names
that announce the [provides.X] it asks for, sorted by name, one HOST:PORT
a line.`,
		Example: `  undistro fleet peers backends`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.fleetCall(cmd, func(ctx context.Context, c *fleet.Client) error {
				ps, err := c.Peers(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return nodeJSON(cmd.OutOrStdout(), ps)
				}
				for _, p := range ps {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", p.Addr(), p.Name)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
