// Package fleet makes a node one member of a fleet with no master: nodes
// find each other over an encrypted gossip (hashicorp/serf over
// memberlist, SWIM failure detection), announce what they are in their
// member tags (Announce: role, image digest, switch state, health, tags),
// answer questions asked of every matching node (Agent.Query: status,
// version, drift) and roll images out among themselves.
//
// A rollout (Target) is published once as a serf user event and nobody
// drives it afterwards: every node of the role decides by itself, from
// what the gossip shows, when its turn comes (Decide: a deterministic
// order of the role's members, at most MaxUnavailable unavailable —
// switching, or failed, since a member the gossip cannot hear may be one in
// the middle of its switch — canaries first, and nobody switches to a
// digest a member rolled back from). A node gone for good is dropped with
// Agent.Forget (`undistro fleet forget`). The
// switch itself is node.Switch with the target's role and digest pinned,
// so the node's trust policy verifies the image exactly as `node switch`
// does: gossip carries a proposal, never trust. What the fleet key does
// grant is a voice: a holder can announce itself as a provider, answer
// queries or halt a rollout by claiming a rollback; it cannot make a node
// run an image its keys did not sign. Without the key nothing is
// readable (memberlist's AES-GCM) and no join succeeds.
//
// Relations: a role declares what its nodes provide ([provides.NAME] port)
// and need ([requires.NAME] role, provides); templates call `peers
// "NAME"` (Agent.Funcs, given to the node's renderer) for the live,
// healthy providers, sorted by name, and the agent re-renders the node's
// templates (Node.Reconfigure) when that list changes.
//
// The agent runs inside the node daemon (a node.Extension) and serves the
// `undistro fleet` commands on the daemon's socket (Client).
package fleet
